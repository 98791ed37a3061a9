"""Parsing and validating the OpenAI-shaped request body at the router.

Only what the router itself needs is checked here (the body is a JSON object,
`model`, `messages`/`prompt`, `stream`, and the numbers admission estimates from:
`max_tokens`, `max_completion_tokens`, `n`); everything else is the provider's to
judge, and unknown fields pass through untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc
import orjson

from services.kernel.errors import GatewayError
from services.router.errors import bad_request

__all__ = ["CHAT", "COMPLETIONS", "EMBEDDINGS", "ParsedBody", "parse_body"]

CHAT = "chat"
COMPLETIONS = "completions"
EMBEDDINGS = "embeddings"

# Far above any model's output limit today, far below what the limiter's amounts and
# the budget arithmetic hold (10**12): a larger value is a client error, answered
# with 400 before it is estimated, never a 500.
MAX_OUTPUT_TOKENS = 100_000_000
# The chat completions API's documented bound on `n`.
MAX_CHOICES = 128


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
    elif operation == EMBEDDINGS:
        _check_embedding_input(body.get("input"))
    elif "prompt" not in body:
        raise bad_request("missing_prompt", "Missing required parameter: 'prompt'.", "prompt")
    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise bad_request("invalid_stream", "'stream' must be true or false.", "stream")
    _check_bounded_integers(body)
    return ParsedBody(operation=operation, body=body, model=model, stream=stream)


def _check_bounded_integers(body: dict[str, Any]) -> None:
    _bounded("invalid_max_tokens", body, "max_tokens", MAX_OUTPUT_TOKENS)
    _bounded("invalid_max_completion_tokens", body, "max_completion_tokens", MAX_OUTPUT_TOKENS)
    _bounded("invalid_n", body, "n", MAX_CHOICES)
    _bounded("invalid_best_of", body, "best_of", MAX_CHOICES)


def _bounded(code: str, body: dict[str, Any], name: str, bound: int) -> None:
    value = body.get(name)
    if value is not None and (
        not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= bound
    ):
        raise bad_request(code, f"'{name}' must be an integer from 1 to {bound}.", name)


# The embeddings API's documented bound on the inputs of one request.
MAX_EMBEDDING_INPUTS = 2048


def _check_embedding_input(value: Any) -> None:
    """Embeddings `input`: a string, an array of strings, an array of token ids, or an
    array of token arrays — none of them empty, at most 2,048 items."""
    if value is None:
        raise bad_request("missing_input", "Missing required parameter: 'input'.", "input")
    if not _embeddable(value):
        raise bad_request(
            "invalid_input",
            "'input' must be a non-empty string, or an array of at most "
            f"{MAX_EMBEDDING_INPUTS} non-empty strings, token ids or token arrays.",
            "input",
        )


def _embeddable(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value)
    if not isinstance(value, list) or not 0 < len(value) <= MAX_EMBEDDING_INPUTS:
        return False
    if all(isinstance(item, str) and item for item in value):
        return True
    if all(_token(item) for item in value):
        return True
    return all(
        isinstance(item, list) and item and all(_token(token) for token in item) for item in value
    )


def _token(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
