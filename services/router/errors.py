"""The router's errors, each with a stable code and a message that says what to do,
and their rendering as OpenAI-shaped bodies for the edge.

The edge contract (gateway/ Lua filter): an error aborts the RPC before any
response message with trailing metadata `x-agentopia-error` (the OpenAI-shaped
JSON body) and `x-agentopia-http-status`; in a trailers-only response those
arrive as headers, and the edge turns them into the HTTP body and status.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

import grpc
import orjson

from services.kernel.errors import GatewayError

__all__ = [
    "ERROR_BODY_KEY",
    "HTTP_STATUS_KEY",
    "abort_openai",
    "bad_request",
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
    """An error after streaming began: in-band, as OpenAI streams report it."""
    return b"data: " + openai_error_body(error) + b"\n\n"


async def abort_openai(
    context: grpc.aio.ServicerContext[Any, Any], error: GatewayError
) -> NoReturn:
    """Abort with the canonical status details plus the OpenAI-shaped body for the edge."""
    metadata: list[tuple[str, str | bytes]] = [
        *error.trailing_metadata(),
        # Metadata values must be printable ASCII: escape everything else.
        (ERROR_BODY_KEY, json.dumps(_payload(error), separators=(",", ":"))),
        (HTTP_STATUS_KEY, str(error.http_status)),
    ]
    if error.retry_after_s is not None:
        metadata.append(("retry-after", str(max(1, round(error.retry_after_s)))))
    await context.abort(error.status, error.message, tuple(metadata))
    raise AssertionError("unreachable: context.abort raises")  # pragma: no cover
