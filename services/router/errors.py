"""The router's errors, each with a stable code and a message that says what to do,
and their rendering as OpenAI-shaped bodies for the edge.

The edge contract (gateway/ Lua filter): an error aborts the RPC before any
response message with trailing metadata `x-agentopia-error` (the OpenAI-shaped
JSON body) and `x-agentopia-http-status`; in a trailers-only response those
arrive as headers, and the edge turns them into the HTTP body and status.
`error_trailers` renders them; the kernel's error interceptor adds them to
every error a router servicer raises (`ServiceHost(error_metadata=...)`).
"""

from __future__ import annotations

import json
from typing import Any

import grpc
import orjson

from services.kernel.errors import GatewayError
from services.router.surfaces.messages.errors import messages_trailers

__all__ = [
    "ERROR_BODY_KEY",
    "HTTP_STATUS_KEY",
    "bad_request",
    "error_trailers",
    "openai_error_body",
    "sse_error_event",
]

ERROR_BODY_KEY = "x-agentopia-error"
HTTP_STATUS_KEY = "x-agentopia-http-status"


def bad_request(code: str, message: str, param: str | None = None) -> GatewayError:
    return GatewayError(grpc.StatusCode.INVALID_ARGUMENT, code, message, param=param)


def _payload(error: GatewayError) -> dict[str, Any]:
    return {
        "error": {
            "message": error.message,
            "type": error.type,
            "param": error.param,
            "code": error.code,
        }
    }


def openai_error_body(error: GatewayError) -> bytes:
    return orjson.dumps(_payload(error))


def sse_error_event(error: GatewayError) -> bytes:
    """An error after streaming began: in-band, as OpenAI-compatible streams report it."""
    return b"data: " + openai_error_body(error) + b"\n\n"


_OPENAI_SURFACE = "/agentopia.v1.OpenAICompatService/"
_MESSAGES_SURFACE = "/agentopia.v1.MessagesService/"


def error_trailers(error: GatewayError, method: str) -> tuple[tuple[str, str | bytes], ...]:
    """The canonical status details, plus — on the OpenAI-compatible surface — the
    OpenAI-shaped body and status for the edge. The router's other services (typed
    inference, routing admin) keep the plain google.rpc.Status their clients parse."""
    if method.startswith(_MESSAGES_SURFACE):  # that surface's own error shape
        return tuple(messages_trailers(error, ERROR_BODY_KEY, HTTP_STATUS_KEY))
    if not method.startswith(_OPENAI_SURFACE):
        return error.trailing_metadata()
    metadata: list[tuple[str, str | bytes]] = [
        *error.trailing_metadata(),
        # Metadata values must be printable ASCII: escape everything else.
        (ERROR_BODY_KEY, json.dumps(_payload(error), separators=(",", ":"))),
        (HTTP_STATUS_KEY, str(error.http_status)),
    ]
    if error.retry_after_s is not None:
        metadata.append(("retry-after", str(max(1, round(error.retry_after_s)))))
    return tuple(metadata)
