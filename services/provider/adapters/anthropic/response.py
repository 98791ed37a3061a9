"""Anthropic Messages response → OpenAI `chat.completion` / `text_completion` (pure).

Usage is explicit: OpenAI's `prompt_tokens` counts every input token billed, so it is
`input_tokens + cache_read_input_tokens + cache_creation_input_tokens` (Anthropic's
`input_tokens` counts only the tokens after the last cache breakpoint);
`prompt_tokens_details.cached_tokens` is `cache_read_input_tokens`; `completion_tokens`
is `output_tokens`. The accounting `Usage` keeps cache reads and cache writes apart
because they are priced differently.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from services.provider.adapters.base import Operation, Usage

__all__ = [
    "FINISH_REASONS",
    "completion_body",
    "finish_reason",
    "merge_usage",
    "openai_usage",
    "usage_from",
]

Json = dict[str, Any]

# stop_reason → OpenAI finish_reason. `refusal` (the model declined) is what OpenAI
# calls `content_filter`; `model_context_window_exceeded` truncates like `length`;
# `pause_turn` only follows server tools, which this adapter never declares: the
# turn ended without a tool call for the client, so `stop`.
FINISH_REASONS: Mapping[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "pause_turn": "stop",
}


def finish_reason(stop_reason: Any) -> str:
    return FINISH_REASONS.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"


def _count(usage: Mapping[str, Any], name: str) -> int | None:
    value = usage.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def merge_usage(totals: dict[str, int], usage: Any) -> None:
    """Fold an Anthropic usage object into running totals; counts are cumulative, so
    a later report replaces an earlier one (null and absent counts leave it alone)."""
    if not isinstance(usage, Mapping):
        return
    for name in (
        "input_tokens",
        "cache_read_input_tokens",
        "cache_creation_input_tokens",
        "output_tokens",
    ):
        value = _count(usage, name)
        if value is not None:
            totals[name] = value


def usage_from(totals: Mapping[str, int]) -> Usage:
    cache_read = totals.get("cache_read_input_tokens", 0)
    cache_creation = totals.get("cache_creation_input_tokens", 0)
    return Usage(
        prompt_tokens=totals.get("input_tokens", 0) + cache_read + cache_creation,
        completion_tokens=totals.get("output_tokens", 0),
        cached_tokens=cache_read,
        cache_creation_tokens=cache_creation,
    )


def openai_usage(usage: Usage) -> Json:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
    }


def _message_parts(content: Any) -> tuple[str | None, list[Json]]:
    texts: list[str] = []
    calls: list[Json] = []
    for block in content if isinstance(content, list) else []:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif kind == "tool_use":
            calls.append(
                {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {
                        "name": block.get("name"),
                        "arguments": orjson.dumps(block.get("input") or {}).decode(),
                    },
                }
            )
        # thinking, redacted_thinking and server-tool blocks are not exposed
    return ("".join(texts) if texts else None), calls


def completion_body(
    message: Mapping[str, Any],
    usage: Usage,
    *,
    operation: Operation,
    response_model: str,
    created: int,
) -> Json:
    """The OpenAI body for a complete Messages response."""
    text, calls = _message_parts(message.get("content"))
    reason = finish_reason(message.get("stop_reason"))
    if operation is Operation.COMPLETIONS:
        kind = "text_completion"
        choice: Json = {"text": text or "", "index": 0, "logprobs": None, "finish_reason": reason}
    else:
        kind = "chat.completion"
        reply: Json = {"role": "assistant", "content": text, "refusal": None}
        if calls:
            reply["tool_calls"] = calls
        choice = {"index": 0, "message": reply, "logprobs": None, "finish_reason": reason}
    return {
        "id": message.get("id"),
        "object": kind,
        "created": created,
        "model": response_model,
        "choices": [choice],
        "usage": openai_usage(usage),
    }
