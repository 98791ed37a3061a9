"""A unified (OpenAI-shaped `chat.completion`) response → a Messages API `message` (pure).

Text → a text block; tool calls → `tool_use` blocks (arguments parsed into the
`input` object; ids made valid for the Messages API, the same way as on the way
in); `finish_reason` → `stop_reason` (stop → end_turn, length → max_tokens,
tool_calls → tool_use, content_filter → refusal; an unknown reason is an error,
never a silent end_turn). Usage: the Messages API counts `input_tokens` apart from
cache reads, so `input_tokens = prompt_tokens - cached_tokens` and
`cache_read_input_tokens = cached_tokens`; unified backends report no cache writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import grpc
import orjson

from services.kernel.errors import GatewayError
from services.router.surfaces.messages.request import safe_tool_id

__all__ = ["STOP_REASONS", "message_body", "messages_usage", "stop_reason"]

Json = dict[str, Any]

STOP_REASONS: Mapping[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def unexpected_upstream(detail: str) -> GatewayError:
    return GatewayError(
        grpc.StatusCode.INTERNAL,
        "invalid_upstream_response",
        f"The backend's answer cannot be expressed in the Messages API: {detail}.",
        http_status=502,
    )


def stop_reason(finish: Any, *, tool_calls: bool) -> str:
    if finish is None:  # never reported: what the turn shows
        return "tool_use" if tool_calls else "end_turn"
    reason = STOP_REASONS.get(finish) if isinstance(finish, str) else None
    if reason is None:
        raise unexpected_upstream(f"unknown finish_reason {finish!r}")
    return reason


def messages_usage(usage: Any) -> Json:
    usage = usage if isinstance(usage, Mapping) else {}
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, Mapping) else None
    cached = cached if isinstance(cached, int) else 0
    prompt = usage.get("prompt_tokens")
    prompt = prompt if isinstance(prompt, int) else 0
    output = usage.get("completion_tokens")
    return {
        "input_tokens": max(0, prompt - cached),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
        "output_tokens": output if isinstance(output, int) else 0,
    }


def tool_input(arguments: Any, index: int) -> Json:
    if not arguments:
        return {}
    try:
        value = orjson.loads(arguments) if isinstance(arguments, str | bytes) else arguments
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise unexpected_upstream(f"tool call {index} has arguments that are not a JSON object")
    return value


def message_body(completion: Mapping[str, Any], response_model: str) -> Json:
    choices = completion.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices else {}
    reply = choice.get("message") if isinstance(choice, Mapping) else None
    reply = reply if isinstance(reply, Mapping) else {}
    content: list[Json] = []
    text = reply.get("content")
    if isinstance(text, str) and text:
        content.append({"type": "text", "text": text})
    calls = reply.get("tool_calls")
    for index, call in enumerate(calls if isinstance(calls, list) else []):
        function = call.get("function") if isinstance(call, Mapping) else None
        function = function if isinstance(function, Mapping) else {}
        content.append(
            {
                "type": "tool_use",
                "id": safe_tool_id(call.get("id")),
                "name": function.get("name"),
                "input": tool_input(function.get("arguments"), index),
            }
        )
    return {
        "id": _message_id(completion.get("id")),
        "type": "message",
        "role": "assistant",
        "model": completion.get("model") or response_model,
        "content": content,
        "stop_reason": stop_reason(choice.get("finish_reason"), tool_calls=bool(calls)),
        "stop_sequence": None,
        "usage": messages_usage(completion.get("usage")),
    }


def _message_id(value: Any) -> str:
    text = value if isinstance(value, str) and value else "gateway"
    return text if text.startswith("msg_") else f"msg_{safe_tool_id(text)}"
