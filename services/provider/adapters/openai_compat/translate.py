"""Pure translation between the unified (OpenAI-shaped) format and an
OpenAI-compatible provider's wire format: request bodies, response bodies and
usage. No I/O, no clock, no globals; errors are raised as GatewayError.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import grpc
import orjson

from services.kernel.errors import GatewayError
from services.provider.adapters.base import Call, Usage
from services.provider.adapters.openai_compat.spec import CompatSpec, ParamAction, ParamRule
from services.provider.errors import invalid_upstream_response

__all__ = [
    "UpstreamRequest",
    "build_request",
    "extract_usage",
    "parse_body",
    "translate_response",
    "usage_from",
]

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    """What to POST: the path under the provider's base URL and the JSON body.
    `dropped` names the parameters removed by the spec's rules (for a debug log)."""

    path: str
    body: Json
    dropped: tuple[str, ...] = ()


def build_request(spec: CompatSpec, call: Call, *, stream: bool) -> UpstreamRequest:
    """The exact body to send upstream for `call`.

    Everything passes through unchanged except: `model` becomes the upstream
    model; the spec's rules drop or refuse parameters and its renames rename
    them; a stream always asks for usage (`stream_options.include_usage`) so
    accounting gets it whether or not the client asked for it; a non-stream
    call never asks to stream.
    """
    path = spec.path_for(call.operation)
    if path is None:
        raise GatewayError(
            status=grpc.StatusCode.INVALID_ARGUMENT,
            code="unsupported_operation",
            message=(
                f"provider {spec.name} has no {call.operation.value} endpoint; "
                "use a model from a provider that supports it"
            ),
        )
    body = dict(call.body)
    dropped: list[str] = []
    for rule in spec.rules:
        dropped.extend(_apply_rule(spec, rule, body))
    for old, new in spec.renames:
        if old in body:
            value = body.pop(old)
            if new in body:
                dropped.append(old)  # the provider's own name wins
            else:
                body[new] = value
    body["model"] = call.upstream_model
    _set_streaming(body, stream)
    return UpstreamRequest(path=path, body=body, dropped=tuple(dropped))


def _apply_rule(spec: CompatSpec, rule: ParamRule, body: Json) -> list[str]:
    field = rule.message_field
    if field is None:
        if rule.param not in body:
            return []
        _check(spec, rule, rule.param, body[rule.param])
        del body[rule.param]
        return [rule.param]
    messages = body.get("messages")
    if not isinstance(messages, list):
        return []
    dropped: list[str] = []
    cleaned: list[Any] = []
    for position, message in enumerate(messages):
        if isinstance(message, dict) and field in message:
            _check(spec, rule, f"messages[{position}].{field}", message[field])
            cleaned.append({k: v for k, v in message.items() if k != field})
            dropped.append(f"messages[{position}].{field}")
        else:
            cleaned.append(message)
    if dropped:
        body["messages"] = cleaned
    return dropped


def _check(spec: CompatSpec, rule: ParamRule, where: str, value: object) -> None:
    if rule.action is ParamAction.DROP or rule.is_harmless(value):
        return
    reason = f" ({rule.reason})" if rule.reason else ""
    raise GatewayError(
        status=grpc.StatusCode.INVALID_ARGUMENT,
        code="unsupported_parameter",
        message=(
            f"parameter '{where}' is not supported by provider {spec.name}{reason}; "
            "remove it or choose a model from another provider"
        ),
        param=where,
        metadata={"provider": spec.name},
    )


def _set_streaming(body: Json, stream: bool) -> None:
    if stream:
        body["stream"] = True
        options = body.get("stream_options")
        merged = dict(options) if isinstance(options, dict) else {}
        merged["include_usage"] = True
        body["stream_options"] = merged
    elif body.get("stream"):
        body["stream"] = False
        body.pop("stream_options", None)


def parse_body(provider: str, raw: bytes) -> Json:
    """A successful response body as a JSON object, or the canonical error."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise invalid_upstream_response(provider, "the response body is not a JSON object")
    return value


def translate_response(spec: CompatSpec, body: Json, *, response_model: str) -> Json:
    """The client's body: the provider's body with `model` set to the model the
    client named and the provider's private extensions removed."""
    out = {k: v for k, v in body.items() if k not in spec.private_fields}
    out["model"] = response_model
    return out


def extract_usage(spec: CompatSpec, body: Mapping[str, Any]) -> Json | None:
    """The raw usage object of a response body or chunk, wherever the provider puts it."""
    usage = body.get("usage")
    if isinstance(usage, dict):
        return usage
    for field, sub in spec.usage_fallbacks:
        container = body.get(field)
        if isinstance(container, dict) and isinstance(container.get(sub), dict):
            found: Json = container[sub]
            return found
    return None


def usage_from(raw: Mapping[str, Any] | None) -> Usage:
    """OpenAI usage → Usage. `prompt_tokens` already includes cached tokens and
    `completion_tokens` already includes reasoning tokens (OpenAI's convention)."""
    if not raw:
        return Usage()
    prompt_details = _mapping(raw.get("prompt_tokens_details"))
    completion_details = _mapping(raw.get("completion_tokens_details"))
    return Usage(
        prompt_tokens=_count(raw.get("prompt_tokens")),
        completion_tokens=_count(raw.get("completion_tokens")),
        cached_tokens=_count(prompt_details.get("cached_tokens")),
        cache_creation_tokens=_count(prompt_details.get("cache_write_tokens")),
        reasoning_tokens=_count(completion_details.get("reasoning_tokens")),
    )


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return max(int(value), 0)
