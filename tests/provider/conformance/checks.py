"""Shape checks shared by the conformance scenarios (OpenAI wire shapes)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from services.provider.adapters.base import Chunk, Result, StreamEnd, Usage

ALIAS = "conformance-alias"


def check_usage(body_usage: dict[str, Any], usage: Usage) -> None:
    assert body_usage["prompt_tokens"] == usage.prompt_tokens > 0
    assert body_usage["completion_tokens"] == usage.completion_tokens > 0
    assert body_usage["total_tokens"] == usage.total_tokens


def check_completion(result: Result, *, finish: str = "stop") -> dict[str, Any]:
    """A chat.completion with one assistant choice; returns that choice's message."""
    body = result.body
    assert body["object"] == "chat.completion"
    assert isinstance(body["id"], str) and body["id"]
    assert isinstance(body["created"], int) and not isinstance(body["created"], bool)
    assert body["model"] == ALIAS
    choice = body["choices"][0]
    assert choice["index"] == 0
    assert choice["finish_reason"] == finish
    message: dict[str, Any] = choice["message"]
    assert message["role"] == "assistant"
    if finish == "stop":
        assert isinstance(message["content"], str) and message["content"].strip()
    check_usage(body["usage"], result.usage)
    return message


async def drain(items: AsyncIterator[Chunk | StreamEnd]) -> tuple[list[dict[str, Any]], StreamEnd]:
    """All chunks, then the single StreamEnd that must come last."""
    chunks: list[dict[str, Any]] = []
    end: StreamEnd | None = None
    async for item in items:
        assert end is None, "nothing may follow StreamEnd"
        if isinstance(item, StreamEnd):
            end = item
        else:
            assert isinstance(item, Chunk)
            chunks.append(item.body)
    assert end is not None, "a stream ends with exactly one StreamEnd"
    return chunks, end


def check_chunks(chunks: list[dict[str, Any]], *, obj: str = "chat.completion.chunk") -> None:
    """Same id, created (int) and model on every chunk; the first delta names the role."""
    assert chunks
    assert len({c["id"] for c in chunks}) == 1
    assert len({c["created"] for c in chunks}) == 1
    assert all(isinstance(c["created"], int) for c in chunks)
    assert {c["model"] for c in chunks} == {ALIAS}
    assert {c["object"] for c in chunks} == {obj}
    if obj == "chat.completion.chunk":
        first = next(c for c in chunks if c["choices"])
        assert first["choices"][0]["delta"].get("role") == "assistant"


def streamed_text(chunks: list[dict[str, Any]], index: int = 0) -> str:
    parts = []
    for chunk in chunks:
        for choice in chunk["choices"]:
            if choice["index"] == index:
                parts.append(choice["delta"].get("content") or "")
    return "".join(parts)


def finish_reasons(chunks: list[dict[str, Any]]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for chunk in chunks:
        for choice in chunk["choices"]:
            if choice.get("finish_reason"):
                found.setdefault(choice["index"], []).append(choice["finish_reason"])
    return found


def reassemble_tool_calls(chunks: list[dict[str, Any]]) -> list[dict[str, str]]:
    """OpenAI tool-call deltas → calls, checking id and name come first, once, per index."""
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for choice in chunk["choices"]:
            for delta in choice["delta"].get("tool_calls") or ():
                index = delta["index"]
                function = delta.get("function") or {}
                if index not in calls:
                    assert delta.get("id"), "a tool call's first delta carries its id"
                    assert function.get("name"), "a tool call's first delta carries its name"
                    calls[index] = {"id": delta["id"], "name": function["name"], "arguments": ""}
                else:
                    assert not delta.get("id") or delta["id"] == calls[index]["id"]
                calls[index]["arguments"] += function.get("arguments") or ""
    assert sorted(calls) == list(range(len(calls))), "tool-call indexes count 0, 1, ..."
    return [calls[i] for i in sorted(calls)]
