"""OpenAI-exact response and chunk objects for a mock plan (pure)."""

from __future__ import annotations

from typing import Any

from services.provider.adapters.base import Usage
from services.provider.adapters.mock.content import Plan, PlannedChoice, split_words
from services.provider.adapters.mock.tools import PlannedCall

__all__ = [
    "chat_chunk",
    "chat_completion",
    "chat_deltas",
    "text_chunk",
    "text_completion",
    "text_pieces",
    "usage_chunk",
    "usage_json",
]

Json = dict[str, Any]
FINGERPRINT = "fp_mock"
ARGUMENT_FRAGMENT_CHARS = 6


def usage_json(usage: Usage, *, detailed: bool = True) -> Json:
    body: Json = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    if detailed:
        body["prompt_tokens_details"] = {"cached_tokens": 0, "audio_tokens": 0}
        body["completion_tokens_details"] = {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        }
    return body


def _tool_call(call: PlannedCall) -> Json:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }


def _message(choice: PlannedChoice) -> Json:
    message: Json = {
        "role": "assistant",
        "content": choice.content,
        "refusal": None,
        "annotations": [],
    }
    if choice.tool_calls:
        message["tool_calls"] = [_tool_call(call) for call in choice.tool_calls]
    return message


def chat_completion(plan: Plan, *, model: str, created: int) -> Json:
    return {
        "id": plan.id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": choice.index,
                "message": _message(choice),
                "logprobs": None,
                "finish_reason": choice.finish_reason,
            }
            for choice in plan.choices
        ],
        "usage": usage_json(plan.usage),
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }


def _tool_deltas(calls: tuple[PlannedCall, ...]) -> list[Json]:
    deltas: list[Json] = []
    for index, call in enumerate(calls):
        start: Json = {
            "tool_calls": [
                {
                    "index": index,
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": ""},
                }
            ]
        }
        if index == 0:
            start = {"role": "assistant", "content": None, "refusal": None, **start}
        deltas.append(start)
        arguments = call.arguments
        for at in range(0, len(arguments), ARGUMENT_FRAGMENT_CHARS):
            fragment = arguments[at : at + ARGUMENT_FRAGMENT_CHARS]
            deltas.append({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})
    return deltas


def chat_deltas(choice: PlannedChoice, words_per_chunk: int) -> list[tuple[Json, str | None]]:
    """One choice's stream: (delta, finish_reason) per chunk, role first, finish last."""
    if choice.tool_calls:
        deltas = _tool_deltas(choice.tool_calls)
    else:
        deltas = [{"role": "assistant", "content": "", "refusal": None}]
        deltas += [{"content": p} for p in split_words(choice.content or "", words_per_chunk)]
    steps: list[tuple[Json, str | None]] = [(delta, None) for delta in deltas]
    steps.append(({}, choice.finish_reason))
    return steps


def chat_chunk(
    plan: Plan,
    *,
    model: str,
    created: int,
    index: int,
    delta: Json,
    finish_reason: str | None,
    include_usage: bool,
) -> Json:
    chunk: Json = {
        "id": plan.id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
        "choices": [
            {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        ],
    }
    if include_usage:
        chunk["usage"] = None
    return chunk


def usage_chunk(plan: Plan, *, model: str, created: int, chat: bool) -> Json:
    """The last chunk when stream_options.include_usage: no choices, the usage."""
    chunk: Json = {
        "id": plan.id,
        "object": "chat.completion.chunk" if chat else "text_completion",
        "created": created,
        "model": model,
        "choices": [],
        "usage": usage_json(plan.usage, detailed=chat),
    }
    if chat:
        chunk["service_tier"] = "default"
        chunk["system_fingerprint"] = FINGERPRINT
    return chunk


def text_completion(plan: Plan, *, model: str, created: int) -> Json:
    return {
        "id": plan.id,
        "object": "text_completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "text": choice.content or "",
                "index": choice.index,
                "logprobs": None,
                "finish_reason": choice.finish_reason,
            }
            for choice in plan.choices
        ],
        "usage": usage_json(plan.usage, detailed=False),
    }


def text_pieces(choice: PlannedChoice, words_per_chunk: int) -> list[tuple[str, str | None]]:
    """One legacy choice's stream: (text, finish_reason) per chunk."""
    steps: list[tuple[str, str | None]] = [
        (piece, None) for piece in split_words(choice.content or "", words_per_chunk)
    ]
    steps.append(("", choice.finish_reason))
    return steps


def text_chunk(
    plan: Plan,
    *,
    model: str,
    created: int,
    index: int,
    text: str,
    finish_reason: str | None,
    include_usage: bool,
) -> Json:
    chunk: Json = {
        "id": plan.id,
        "object": "text_completion",
        "created": created,
        "model": model,
        "choices": [
            {"text": text, "index": index, "logprobs": None, "finish_reason": finish_reason}
        ],
    }
    if include_usage:
        chunk["usage"] = None
    return chunk
