"""Errors in the Messages API's shape and with its statuses.

`{"type": "error", "error": {"type": <kind>, "message": <text>}}`; the kind follows
the HTTP status as the API documents it. Capacity errors — an overloaded or
exhausted upstream, or no healthy deployment left — are 529 `overloaded_error`,
the status the Messages SDKs retry as "overloaded". Rendered into the same edge
trailers as the OpenAI-shaped errors (services/router/errors.py), so the edge's
filter moves the body and status into the HTTP response unchanged."""

from __future__ import annotations

import json
from typing import Any

import orjson

from services.kernel.errors import GatewayError

__all__ = ["OVERLOADED", "error_body", "error_event", "error_status", "messages_trailers"]

OVERLOADED = 529
_KIND_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    OVERLOADED: "overloaded_error",
}
# Stable codes that mean "no capacity right now" (services/provider/vocabulary.py and
# the router's own when every deployment is down).
_CAPACITY_CODES = frozenset(
    {"upstream_overloaded", "upstream_capacity_exceeded", "no_healthy_deployment"}
)


def error_status(error: GatewayError) -> int:
    if error.code in _CAPACITY_CODES or error.http_status == 503:
        return OVERLOADED
    return error.http_status


def _payload(error: GatewayError) -> dict[str, Any]:
    status = error_status(error)
    kind = _KIND_BY_STATUS.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": kind, "message": error.message}}


def error_body(error: GatewayError) -> bytes:
    return orjson.dumps(_payload(error))


def error_event(error: GatewayError) -> bytes:
    """An error after the stream began: the API's in-band `error` event."""
    return b"event: error\ndata: " + error_body(error) + b"\n\n"


def messages_trailers(
    error: GatewayError, body_key: str, status_key: str
) -> list[tuple[str, str | bytes]]:
    """The edge trailers for this surface (keys as services/router/errors.py names them)."""
    metadata: list[tuple[str, str | bytes]] = [
        *error.trailing_metadata(),
        (body_key, json.dumps(_payload(error), separators=(",", ":"))),
        (status_key, str(error_status(error))),
    ]
    if error.retry_after_s is not None:
        metadata.append(("retry-after", str(max(1, round(error.retry_after_s)))))
    return metadata
