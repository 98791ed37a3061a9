"""Canonical provider-service errors: the upstream-status table and transport failures.

Every upstream failure becomes a `GatewayError` here and nowhere else (adapters
call `upstream_error` / `stream_error`; http.py calls the transport helpers), so
the same upstream answer always gives the client the same code, status,
retryable flag and Retry-After, with secrets redacted. Pure: no I/O, no clock
unless the caller passes none.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import grpc

from services.kernel.errors import GatewayError
from services.provider.redact import ProviderMessage, extract_message

__all__ = [
    "ERROR_TYPE_STATUS",
    "UPSTREAM_RULES",
    "UpstreamRule",
    "connect_error",
    "connection_lost",
    "credential_not_found",
    "internal_error",
    "invalid_json",
    "invalid_upstream_response",
    "no_usable_key",
    "provider_not_configured",
    "provider_not_found",
    "retry_after_seconds",
    "rule_for",
    "service_starting",
    "stream_error",
    "timeout_error",
    "upstream_error",
]

_S = grpc.StatusCode


@dataclass(frozen=True, slots=True)
class UpstreamRule:
    """How one upstream HTTP status reaches our client."""

    code: str
    status: grpc.StatusCode
    http_status: int  # what the client sees (a provider 401 is our key's fault: 502)
    retryable: bool
    summary: str
    hint: str


UPSTREAM_RULES: Mapping[int, UpstreamRule] = {
    400: UpstreamRule(
        "upstream_bad_request",
        _S.INVALID_ARGUMENT,
        400,
        False,
        "rejected the request as invalid",
        "Fix the request; retrying will not help.",
    ),
    401: UpstreamRule(
        "provider_auth_failed",
        _S.FAILED_PRECONDITION,
        502,
        False,
        "rejected the gateway's provider credential",
        "The request was fine; an operator must fix the provider key.",
    ),
    403: UpstreamRule(
        "provider_permission_denied",
        _S.FAILED_PRECONDITION,
        502,
        False,
        "denied the gateway's provider credential access",
        "The request was fine; an operator must fix the provider account.",
    ),
    404: UpstreamRule(
        "upstream_not_found",
        _S.NOT_FOUND,
        404,
        False,
        "does not know the model or endpoint",
        "Check the model name and the deployment's upstream model id.",
    ),
    408: UpstreamRule(
        "upstream_timeout", _S.DEADLINE_EXCEEDED, 504, True, "timed out", "Retry the request."
    ),
    409: UpstreamRule(
        "upstream_conflict", _S.ABORTED, 409, True, "reported a conflict", "Retry the request."
    ),
    413: UpstreamRule(
        "upstream_payload_too_large",
        _S.INVALID_ARGUMENT,
        413,
        False,
        "rejected the request as too large",
        "Send a smaller request.",
    ),
    422: UpstreamRule(
        "upstream_unprocessable",
        _S.INVALID_ARGUMENT,
        422,
        False,
        "could not process the request",
        "Fix the request; retrying will not help.",
    ),
    429: UpstreamRule(
        "upstream_rate_limited",
        _S.RESOURCE_EXHAUSTED,
        429,
        True,
        "rate-limited the request",
        "Retry after the indicated delay.",
    ),
    # Groq's flex tier answers 498 capacity_exceeded when full and asks to retry later.
    498: UpstreamRule(
        "upstream_capacity_exceeded",
        _S.UNAVAILABLE,
        503,
        True,
        "has no capacity left",
        "Retry later or use another deployment.",
    ),
    500: UpstreamRule(
        "upstream_server_error",
        _S.UNAVAILABLE,
        502,
        True,
        "failed with an internal error",
        "Retry the request.",
    ),
    502: UpstreamRule(
        "upstream_bad_gateway",
        _S.UNAVAILABLE,
        502,
        True,
        "answered with a bad gateway",
        "Retry the request.",
    ),
    503: UpstreamRule(
        "upstream_unavailable", _S.UNAVAILABLE, 503, True, "is unavailable", "Retry the request."
    ),
    504: UpstreamRule(
        "upstream_gateway_timeout",
        _S.DEADLINE_EXCEEDED,
        504,
        True,
        "timed out at its gateway",
        "Retry the request.",
    ),
    529: UpstreamRule(
        "upstream_overloaded",
        _S.UNAVAILABLE,
        503,
        True,
        "is overloaded",
        "Retry later or use another deployment.",
    ),
}

_CLIENT_ERROR = UpstreamRule(
    "upstream_client_error",
    _S.INVALID_ARGUMENT,
    400,
    False,
    "rejected the request",
    "Fix the request; retrying will not help.",
)
_SERVER_ERROR = UPSTREAM_RULES[500]
_UNEXPECTED = UpstreamRule(
    "upstream_unexpected_status",
    _S.UNAVAILABLE,
    502,
    False,
    "answered with an unexpected status",
    "Check the deployment's base URL.",
)
_QUOTA = UpstreamRule(
    "provider_quota_exhausted",
    _S.FAILED_PRECONDITION,
    502,
    False,
    "reports the gateway's provider account out of quota",
    "The request was fine; an operator must add provider credit.",
)

# Error `type`s in bodies and in-band stream errors (Anthropic's and OpenAI's
# vocabularies) and the HTTP status they stand for.
ERROR_TYPE_STATUS: Mapping[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "server_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


def rule_for(status: int, provider_type: str = "", provider_code: str = "") -> UpstreamRule:
    """The table row for an upstream status, refined by the provider's error type/code."""
    if provider_type == "overloaded_error":
        return UPSTREAM_RULES[529]
    if status == 429 and "insufficient_quota" in (provider_type, provider_code):
        return _QUOTA
    rule = UPSTREAM_RULES.get(status)
    if rule is not None:
        return rule
    if 400 <= status < 500:
        return _CLIENT_ERROR
    if status >= 500:
        return _SERVER_ERROR
    return _UNEXPECTED


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `retry-after` (seconds or an HTTP date)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    millis = lowered.get("retry-after-ms", "").strip()
    if millis:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = lowered.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def _metadata(
    provider: str, status: int, found: ProviderMessage, headers: Mapping[str, str]
) -> dict[str, str]:
    meta = {"provider": provider, "upstream_status": str(status)}
    if found.type:
        meta["upstream_type"] = found.type
    if found.code:
        meta["upstream_code"] = found.code
    lowered = {k.lower(): v for k, v in headers.items()}
    request_id = lowered.get("x-request-id") or lowered.get("request-id")
    if request_id:
        meta["upstream_request_id"] = request_id[:128]
    return meta


def _build(
    rule: UpstreamRule,
    *,
    provider: str,
    status: int,
    found: ProviderMessage,
    headers: Mapping[str, str],
    now: float | None,
) -> GatewayError:
    said = f": {found.message}" if found.message else ""
    message = f"{provider} {rule.summary} (HTTP {status}){said}. {rule.hint}"
    return GatewayError(
        status=rule.status,
        code=rule.code,
        message=message,
        http_status=rule.http_status,
        param=found.param if rule.http_status < 500 else None,
        retryable=rule.retryable,
        retry_after_s=retry_after_seconds(headers, now) if rule.retryable else None,
        metadata=_metadata(provider, status, found, headers),
    )


def upstream_error(
    *,
    provider: str,
    status: int,
    headers: Mapping[str, str] | None = None,
    body: bytes | str | Mapping[str, Any] = b"",
    secrets: Iterable[str] = (),
    now: float | None = None,
) -> GatewayError:
    """The canonical error for an upstream HTTP error response.

    `secrets` are the values to scrub besides anything key-shaped (pass the
    credential's secret); `now` (epoch seconds) is for HTTP-date Retry-After.
    """
    headers = headers or {}
    found = extract_message(body, secrets)
    rule = rule_for(status, found.type, found.code)
    return _build(rule, provider=provider, status=status, found=found, headers=headers, now=now)


def stream_error(
    *,
    provider: str,
    payload: Mapping[str, Any],
    secrets: Iterable[str] = (),
) -> GatewayError:
    """The canonical error for an in-band stream error event (after a 200 status),
    e.g. Anthropic `event: error` or an OpenAI `data: {"error": {...}}` chunk."""
    found = extract_message(payload, secrets)
    status = ERROR_TYPE_STATUS.get(found.type, 500)
    rule = rule_for(status, found.type, found.code)
    return _build(rule, provider=provider, status=status, found=found, headers={}, now=None)


# ---- transport failures (no HTTP status from the upstream) ----


def timeout_error(provider: str, phase: str, seconds: float) -> GatewayError:
    """`phase` is `connect`, `first_byte`, `total` or `stream_idle`."""
    if phase == "connect":
        return GatewayError(
            status=_S.UNAVAILABLE,
            code="upstream_connect_timeout",
            message=f"Could not connect to {provider} within {seconds:g}s. Retry the request.",
            http_status=502,
            retryable=True,
            metadata={"provider": provider, "phase": phase},
        )
    return GatewayError(
        status=_S.DEADLINE_EXCEEDED,
        code="upstream_timeout",
        message=f"{provider} did not answer in time ({phase.replace('_', ' ')} limit "
        f"{seconds:g}s). Retry the request.",
        http_status=504,
        retryable=True,
        metadata={"provider": provider, "phase": phase},
    )


def _transport(provider: str, code: str, message: str) -> GatewayError:
    """A failure between us and the provider: a retryable 502 for the client."""
    return GatewayError(
        status=_S.UNAVAILABLE,
        code=code,
        message=f"{message} Retry the request.",
        http_status=502,
        retryable=True,
        metadata={"provider": provider},
    )


def connect_error(provider: str, detail: str) -> GatewayError:
    return _transport(
        provider, "upstream_connect_error", f"Could not connect to {provider} ({detail})."
    )


def connection_lost(provider: str, detail: str) -> GatewayError:
    return _transport(
        provider, "upstream_connection_lost", f"The connection to {provider} broke ({detail})."
    )


def invalid_upstream_response(provider: str, detail: str) -> GatewayError:
    return _transport(
        provider,
        "upstream_invalid_response",
        f"{provider} sent a response the gateway cannot read ({detail}).",
    )


# ---- the service's own errors ----


def invalid_json(detail: str) -> GatewayError:
    return GatewayError(
        status=_S.INVALID_ARGUMENT,
        code="invalid_json",
        message=f"The request body is not a JSON object ({detail}). Send valid JSON.",
    )


def provider_not_found(name: str, known: Iterable[str]) -> GatewayError:
    return GatewayError(
        status=_S.NOT_FOUND,
        code="provider_not_found",
        message=f"Unknown provider {name!r}; this instance serves: {', '.join(sorted(known))}.",
        metadata={"provider": name},
    )


def provider_not_configured(name: str, key_env: str) -> GatewayError:
    return GatewayError(
        status=_S.FAILED_PRECONDITION,
        code="provider_not_configured",
        message=f"Provider {name!r} has no credential configured; an operator must set "
        f"{key_env or 'its API key'}.",
        http_status=502,
        metadata={"provider": name},
    )


def no_usable_key(name: str, pool: str, keys: int) -> GatewayError:
    """Every leased key of the pool is disabled (same code as an unset key: the router
    fails over to another deployment, and an operator must act)."""
    where = f"pool {pool!r}" if pool else "its default pool"
    return GatewayError(
        status=_S.FAILED_PRECONDITION,
        code="provider_not_configured",
        message=f"Provider {name!r} has no usable key in {where}: all {keys} are disabled; "
        "an operator must fix or add a provider key in the key vault.",
        http_status=502,
        metadata={"provider": name},
    )


def internal_error(provider: str) -> GatewayError:
    return GatewayError(
        status=_S.INTERNAL,
        code="provider_internal_error",
        message=f"The {provider} adapter failed unexpectedly. Retry later; the failure is logged.",
        metadata={"provider": provider},
    )


def credential_not_found(name: str, credential_id: str) -> GatewayError:
    return GatewayError(
        status=_S.FAILED_PRECONDITION,
        code="credential_not_found",
        message=f"Provider {name!r} holds no credential {credential_id!r} on this instance.",
        http_status=502,
        metadata={"provider": name},
    )


def service_starting() -> GatewayError:
    return GatewayError(
        status=_S.UNAVAILABLE,
        code="provider_service_starting",
        message="The provider service is still starting. Retry the request.",
        retryable=True,
    )
