"""Parsing and validating the OpenAI-shaped request body at the router.

Only what the router itself needs is checked here (the body is a JSON object,
`model`, `messages`/`prompt`, `stream`); everything else is the provider's to
judge, and unknown fields pass through untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc
import orjson

from services.kernel.errors import GatewayError
from services.router.errors import bad_request

__all__ = ["CHAT", "COMPLETIONS", "ParsedBody", "parse_body"]

CHAT = "chat"
COMPLETIONS = "completions"


@dataclass(frozen=True, slots=True)
class ParsedBody:
    operation: str
    body: dict[str, Any]
    model: str
    stream: bool


def parse_body(raw: bytes, operation: str, *, max_bytes: int) -> ParsedBody:
    if len(raw) > max_bytes:
        raise GatewayError(
            status=grpc.StatusCode.INVALID_ARGUMENT,
            code="request_too_large",
            message=f"The request body is {len(raw)} bytes; the limit is {max_bytes} bytes.",
            http_status=413,
            type="invalid_request_error",
        )
    if not raw.strip():
        raise bad_request("invalid_json", "The request body is empty; send a JSON object.")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request(
            "invalid_json",
            f"The request body is not valid JSON ({exc.msg} at position {exc.pos}).",
        ) from None
    if not isinstance(body, dict):
        raise bad_request("invalid_request", "The request body must be a JSON object.")
    return validate_body(body, operation)


def validate_body(body: dict[str, Any], operation: str) -> ParsedBody:
    model = body.get("model")
    if model is None:
        raise bad_request("missing_model", "Missing required parameter: 'model'.", "model")
    if not isinstance(model, str) or not model.strip():
        raise bad_request("invalid_model", "'model' must be a non-empty string.", "model")
    if operation == CHAT:
        messages = body.get("messages")
        if messages is None:
            raise bad_request(
                "missing_messages", "Missing required parameter: 'messages'.", "messages"
            )
        if not isinstance(messages, list) or not messages:
            raise bad_request(
                "invalid_messages", "'messages' must be a non-empty array.", "messages"
            )
        for index, message in enumerate(messages):
            if not isinstance(message, dict) or not isinstance(message.get("role"), str):
                raise bad_request(
                    "invalid_messages",
                    f"messages[{index}] must be an object with a string 'role'.",
                    f"messages[{index}]",
                )
    elif "prompt" not in body:
        raise bad_request("missing_prompt", "Missing required parameter: 'prompt'.", "prompt")
    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise bad_request("invalid_stream", "'stream' must be true or false.", "stream")
    return ParsedBody(operation=operation, body=body, model=model, stream=stream)
