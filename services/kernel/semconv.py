"""OpenTelemetry GenAI semantic conventions: span attributes for one request, from
its usage event, and the conventions' attribute names as Prometheus labels.

The router sets these on its per-request span (and the provider service on its
upstream-call span) so traces carry model, provider and tokens:

    span.set_attributes(genai_span_attributes(event))

Only ids and numbers: never a key secret, prompt or completion text.
"""

from __future__ import annotations

from agentopia.v1 import metrics_service_pb2 as pb

__all__ = [
    "OPERATION_LABEL",
    "PROVIDER_LABEL",
    "REQUEST_MODEL_LABEL",
    "RESPONSE_MODEL_LABEL",
    "TOKEN_TYPE_LABEL",
    "AttributeValue",
    "genai_span_attributes",
]

AttributeValue = str | int | float | bool

# The attributes as Prometheus label names (dots become underscores).
OPERATION_LABEL = "gen_ai_operation_name"
PROVIDER_LABEL = "gen_ai_provider_name"
REQUEST_MODEL_LABEL = "gen_ai_request_model"
RESPONSE_MODEL_LABEL = "gen_ai_response_model"
TOKEN_TYPE_LABEL = "gen_ai_token_type"  # noqa: S105 (a label name, not a secret)


def genai_span_attributes(event: pb.UsageEvent) -> dict[str, AttributeValue]:
    """The span attributes of one finished request (ids and numbers only)."""
    attributes: dict[str, AttributeValue] = {
        "gen_ai.operation.name": event.operation or "chat",
        "gen_ai.provider.name": event.provider,
        "gen_ai.request.model": event.requested_model,
        "gen_ai.response.model": event.model,
        "gen_ai.usage.input_tokens": event.prompt_tokens,
        "gen_ai.usage.output_tokens": event.completion_tokens,
        "gen_ai.usage.cache_read.input_tokens": event.cached_tokens,
        "gen_ai.usage.cache_creation.input_tokens": event.cache_creation_tokens,
        "agentopia.usage.reasoning_tokens": event.reasoning_tokens,
        "agentopia.deployment_id": event.deployment_id,
        "agentopia.key_id": event.key_id,
        "agentopia.retries": event.retries,
        "agentopia.failovers": event.failovers,
        "agentopia.stream": event.stream,
    }
    if event.cost_usd:
        attributes["agentopia.cost_usd"] = event.cost_usd
    if event.status_code >= 400 or event.error_code:
        attributes["error.type"] = event.error_code or str(event.status_code)
    return {name: value for name, value in attributes.items() if value != ""}
