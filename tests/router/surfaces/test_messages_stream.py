"""Unified chunks → Messages API events: the exact framing, whatever the backend
sends (tools only, text then tools, parallel tools, no finish reason, usage)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from services.kernel.errors import GatewayError
from services.router.surfaces.messages.response import message_body
from services.router.surfaces.messages.stream import MessagesStream


def _frames(*chunks: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks)


def _chunk(delta: dict[str, Any] | None = None, finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": "openai/gpt-4o-mini",
        "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}],
    }


def _usage(prompt: int, completion: int, cached: int = 0) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "choices": [],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "prompt_tokens_details": {"cached_tokens": cached},
        },
    }


def _events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for frame in raw.split(b"\n\n"):
        if not frame:
            continue
        name, data = frame.split(b"\n")
        out.append((name.removeprefix(b"event: ").decode(), orjson.loads(data[len(b"data: ") :])))
    return out


def _run(*batches: bytes) -> list[tuple[str, dict[str, Any]]]:
    stream = MessagesStream(response_model="m", input_tokens=7)
    raw = b"".join(stream.feed(batch) for batch in batches) + stream.finish()
    return _events(raw)


def test_text_then_two_parallel_tools_are_strictly_nested_blocks() -> None:
    events = _run(
        _frames(_chunk({"role": "assistant", "content": "Let me check."})),
        _frames(
            _chunk(
                {
                    "tool_calls": [
                        {"index": 0, "id": "call_a", "function": {"name": "w", "arguments": '{"ci'}}
                    ]
                }
            ),
            _chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'ty":"Paris"}'}}]}),
            _chunk(
                {
                    "tool_calls": [
                        {"index": 1, "id": "call_b", "function": {"name": "t", "arguments": "{}"}}
                    ]
                }
            ),
        ),
        _frames(_chunk(finish="tool_calls"), _usage(20, 9, cached=4)),
    )
    names = [name for name, _ in events]
    assert names == [
        "message_start", "ping",
        "content_block_start", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_stop",
        "message_delta", "message_stop",
    ]  # fmt: skip
    starts = [data for name, data in events if name == "content_block_start"]
    assert [s["index"] for s in starts] == [0, 1, 2]
    assert starts[1]["content_block"] == {
        "type": "tool_use",
        "id": "call_a",
        "name": "w",
        "input": {},
    }
    assert starts[2]["content_block"]["id"] == "call_b"
    fragments = [
        d["delta"]["partial_json"]
        for n, d in events
        if n == "content_block_delta" and d["index"] == 1
    ]
    assert "".join(fragments) == '{"city":"Paris"}'
    delta = events[-2][1]
    assert delta["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert delta["usage"] == {
        "input_tokens": 16,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 4,
        "output_tokens": 9,
    }
    start = events[0][1]["message"]
    assert start["usage"]["input_tokens"] == 7 and start["model"] == "openai/gpt-4o-mini"


def test_a_stream_without_finish_reason_still_gets_message_delta() -> None:
    events = _run(
        _frames(
            _chunk(
                {
                    "tool_calls": [
                        {"index": 0, "id": "c", "function": {"name": "w", "arguments": "{}"}}
                    ]
                }
            )
        )
    )
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"
    assert events[-1][0] == "message_stop"


@pytest.mark.parametrize(
    ("finish", "reason"),
    [("stop", "end_turn"), ("length", "max_tokens"), ("content_filter", "refusal")],
)
def test_stop_reasons(finish: str, reason: str) -> None:
    events = _run(_frames(_chunk({"content": "x"}), _chunk(finish=finish)))
    assert events[-2][1]["delta"]["stop_reason"] == reason


def test_an_unknown_finish_reason_is_an_error_not_end_turn() -> None:
    stream = MessagesStream(response_model="m", input_tokens=1)
    stream.feed(_frames(_chunk({"content": "x"}), _chunk(finish="surprise")))
    with pytest.raises(GatewayError):
        stream.finish()


def test_reasoning_deltas_open_a_thinking_block_before_the_text() -> None:
    events = _run(
        _frames(_chunk({"reasoning": "think"}), _chunk({"content": "ok"}), _chunk(finish="stop"))
    )
    starts = [d["content_block"]["type"] for n, d in events if n == "content_block_start"]
    assert starts == ["thinking", "text"]
    kinds = [d["delta"]["type"] for n, d in events if n == "content_block_delta"]
    assert kinds == ["thinking_delta", "text_delta"]


def test_a_complete_response_translates_with_cache_reads_apart() -> None:
    completion = {
        "id": "chatcmpl-9",
        "model": "groq/llama",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": "Sure.",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "w", "arguments": '{"a":1}'},
                        }
                    ],
                },
            }
        ],
        "usage": {
            "prompt_tokens": 30,
            "completion_tokens": 5,
            "prompt_tokens_details": {"cached_tokens": 10},
        },
    }
    message = message_body(completion, "fallback")
    assert message["id"] == "msg_chatcmpl-9"
    assert message["model"] == "groq/llama"
    assert message["content"] == [
        {"type": "text", "text": "Sure."},
        {"type": "tool_use", "id": "call_1", "name": "w", "input": {"a": 1}},
    ]
    assert message["stop_reason"] == "tool_use"
    assert message["usage"] == {
        "input_tokens": 20,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 10,
        "output_tokens": 5,
    }


def test_tool_arguments_that_are_not_json_are_an_error() -> None:
    completion = {
        "choices": [
            {
                "finish_reason": "tool_calls",
                "message": {
                    "tool_calls": [{"id": "c", "function": {"name": "w", "arguments": "{oops"}}]
                },
            }
        ]
    }
    with pytest.raises(GatewayError) as caught:
        message_body(completion, "m")
    assert caught.value.http_status == 502
