"""Canonical provider-service errors: upstream answers and transport failures.

Every upstream failure becomes a `GatewayError` here and nowhere else (adapters
call `upstream_error` / `stream_error` with their provider's `Vocabulary`; http.py
calls the transport helpers), so the same upstream answer always gives the client
the same code, status, retryable flag and Retry-After, with secrets redacted.
What a status means is vocabulary.py's table, refined by the provider's own words.
Pure: no I/O, no clock unless the caller passes none.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import grpc

from services.kernel.errors import GatewayError
from services.provider.redact import GENERIC_REDACTOR, ProviderMessage, Redactor, extract_message
from services.provider.vocabulary import (
    GENERIC,
    UpstreamRule,
    Vocabulary,
    rule_for,
    status_for_type,
)

__all__ = [
    "connect_error",
    "connection_lost",
    "internal_error",
    "invalid_json",
    "invalid_upstream_response",
    "provider_not_configured",
    "provider_not_found",
    "retry_after_seconds",
    "service_starting",
    "stream_error",
    "timeout_error",
    "upstream_error",
    "upstream_status",
]

_S = grpc.StatusCode


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
    vocabulary: Vocabulary = GENERIC,
    redactor: Redactor = GENERIC_REDACTOR,
    now: float | None = None,
) -> GatewayError:
    """The canonical error for an upstream HTTP error response.

    `secrets` are the values to scrub besides anything key-shaped (pass the
    credential's secret); `now` (epoch seconds) is for HTTP-date Retry-After.
    """
    headers = headers or {}
    found = extract_message(body, secrets, redactor)
    rule = rule_for(status, found.type, found.code, vocabulary)
    return _build(rule, provider=provider, status=status, found=found, headers=headers, now=now)


def stream_error(
    *,
    provider: str,
    payload: Mapping[str, Any],
    secrets: Iterable[str] = (),
    vocabulary: Vocabulary = GENERIC,
    redactor: Redactor = GENERIC_REDACTOR,
) -> GatewayError:
    """The canonical error for an in-band stream error event (after a 200 status):
    an SSE error event or a `data: {"error": {...}}` chunk; its error `type` stands
    for the status."""
    found = extract_message(payload, secrets, redactor)
    status = status_for_type(found.type, vocabulary)
    rule = rule_for(status, found.type, found.code, vocabulary)
    return _build(rule, provider=provider, status=status, found=found, headers={}, now=None)


def upstream_status(error: GatewayError) -> int | None:
    """The upstream HTTP status behind an error; 0 for a transport failure; None when the
    call never reached the upstream (e.g. the adapter refused the request)."""
    raw = error.metadata.get("upstream_status")
    if raw is not None:
        with contextlib.suppress(ValueError):
            return int(raw)
    return 0 if error.code.startswith("upstream_") else None


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


def response_too_large(provider: str, what: str, limit: int) -> GatewayError:
    """The upstream sent more than the configured bound: not retried (the same
    request would bring the same answer)."""
    return GatewayError(
        status=_S.UNAVAILABLE,
        code="upstream_response_too_large",
        message=f"{provider} sent {what} larger than the gateway accepts ({limit} bytes).",
        http_status=502,
        metadata={"provider": provider},
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


def internal_error(provider: str) -> GatewayError:
    return GatewayError(
        status=_S.INTERNAL,
        code="provider_internal_error",
        message=f"The {provider} adapter failed unexpectedly. Retry later; the failure is logged.",
        metadata={"provider": provider},
    )


def service_starting() -> GatewayError:
    return GatewayError(
        status=_S.UNAVAILABLE,
        code="provider_service_starting",
        message="The provider service is still starting. Retry the request.",
        retryable=True,
    )
