"""Golden fixtures: Anthropic Messages response / SSE transcript → the unified result.

responses/*.json hold {anthropic, openai, usage}; streams/<name>.sse is a raw SSE
transcript (as the API frames it) and streams/<name>.json the chunks and usage (or
the error) it must give, through the provider service's own SSE parser.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from services.kernel.errors import GatewayError
from services.provider.adapters.anthropic.response import (
    FINISH_REASONS,
    completion_body,
    finish_reason,
    merge_usage,
    usage_from,
)
from services.provider.adapters.anthropic.stream import StreamTranslator
from services.provider.adapters.base import Chunk, Operation, SseEvent
from services.provider.sse import SseParser

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "providers" / "anthropic"
RESPONSES = sorted((FIXTURES / "responses").glob("*.json"))
STREAMS = sorted((FIXTURES / "streams").glob("*.json"))


def _usage_dict(usage: Any) -> dict[str, int]:
    fields = dataclasses.asdict(usage)
    fields.pop("reasoning_tokens")
    return fields


@pytest.mark.parametrize("path", RESPONSES, ids=[p.stem for p in RESPONSES])
def test_response_fixture(path: Path) -> None:
    data = json.loads(path.read_text())
    totals: dict[str, int] = {}
    merge_usage(totals, data["anthropic"]["usage"])
    usage = usage_from(totals)
    body = completion_body(
        data["anthropic"],
        usage,
        operation=Operation(data["operation"]),
        response_model=data["response_model"],
        created=data["created"],
    )
    assert body == data["openai"]
    assert _usage_dict(usage) == data["usage"]


def events_of(transcript: bytes, piece: int = 7) -> list[SseEvent]:
    """The transcript's events, fed to the parser in small pieces as a network would."""
    parser = SseParser()
    events: list[SseEvent] = []
    for start in range(0, len(transcript), piece):
        events.extend(parser.feed(transcript[start : start + piece]))
    return events + parser.close()


def _translator(data: dict[str, Any]) -> StreamTranslator:
    return StreamTranslator(
        operation=Operation(data["operation"]),
        response_model=data["response_model"],
        created=data["created"],
        include_usage=data["include_usage"],
        secrets=("sk-ant-secret",),
    )


@pytest.mark.parametrize("path", STREAMS, ids=[p.stem for p in STREAMS])
def test_stream_fixture(path: Path) -> None:
    data = json.loads(path.read_text())
    chunks: list[dict[str, Any]] = []
    translator = _translator(data)
    transcript = (FIXTURES / "streams" / data["transcript"]).read_bytes()
    try:
        for event in events_of(transcript):
            chunks.extend(chunk.body for chunk in translator.feed(event))
        usage = translator.finish()
    except GatewayError as error:
        assert "error" in data, f"unexpected error {error}"
        expected = data["error"]
        assert (error.code, error.http_status, error.retryable) == (
            expected["code"],
            expected["http_status"],
            expected["retryable"],
        )
        assert expected["says"] in error.message
        assert chunks == data["chunks"]
        return
    assert "error" not in data, "the stream should have failed"
    assert chunks == data["chunks"]
    assert _usage_dict(usage) == data["usage"]
    assert len({(c["id"], c["created"], c["model"]) for c in chunks}) == 1


def test_finish_reason_table() -> None:
    assert FINISH_REASONS == {
        "end_turn": "stop",
        "stop_sequence": "stop",
        "max_tokens": "length",
        "model_context_window_exceeded": "length",
        "tool_use": "tool_calls",
        "refusal": "content_filter",
        "pause_turn": "stop",
    }
    assert finish_reason(None) == "stop"
    assert finish_reason("some_future_reason") == "stop"


def _feed(translator: StreamTranslator, name: str, data: Any) -> list[Chunk]:
    raw = data if isinstance(data, str) else json.dumps(data)
    return translator.feed(SseEvent(name, raw))


def _fresh() -> StreamTranslator:
    return StreamTranslator(
        operation=Operation.CHAT, response_model="m", created=1, include_usage=False
    )


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("message_start", "{not json", "unparseable"),
        ("message_start", "[1, 2]", "not a JSON object"),
        ("message_start", {"type": "message_start", "message": {}}, "message id"),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0},
            "before message_start",
        ),
    ],
)
def test_protocol_violations_are_errors(name: str, data: Any, says: str) -> None:
    with pytest.raises(GatewayError) as caught:
        _feed(_fresh(), name, data)
    assert caught.value.code == "upstream_invalid_response"
    assert says in caught.value.message


def test_stream_error_event_scrubs_the_key() -> None:
    translator = StreamTranslator(
        operation=Operation.CHAT,
        response_model="m",
        created=1,
        include_usage=False,
        secrets=("sk-ant-api03-verysecret",),
    )
    payload = {
        "type": "error",
        "error": {"type": "api_error", "message": "bad sk-ant-api03-verysecret"},
    }
    with pytest.raises(GatewayError) as caught:
        _feed(translator, "error", payload)
    assert "verysecret" not in caught.value.message
    assert caught.value.retryable


def test_events_after_message_stop_and_odd_blocks_are_ignored() -> None:
    translator = _fresh()
    start = {"type": "message_start", "message": {"id": "msg_1", "usage": {"input_tokens": 2}}}
    assert len(_feed(translator, "message_start", start)) == 1
    # malformed or foreign blocks and deltas give nothing rather than crashing
    assert _feed(translator, "", {"type": "content_block_start", "index": 0}) == []
    assert (
        _feed(
            translator,
            "",
            {"type": "content_block_start", "content_block": {"type": "server_tool_use"}},
        )
        == []
    )
    assert _feed(translator, "", {"type": "content_block_delta", "index": 0}) == []
    delta = {"type": "input_json_delta", "partial_json": "{}"}
    assert _feed(translator, "", {"type": "content_block_delta", "index": 5, "delta": delta}) == []
    assert translator.usage.prompt_tokens == 2
    assert len(_feed(translator, "message_stop", {"type": "message_stop"})) == 1
    assert _feed(translator, "message_stop", {"type": "message_stop"}) == []
    assert translator.done


def test_usage_merging_is_cumulative_and_ignores_gaps() -> None:
    totals: dict[str, int] = {}
    merge_usage(totals, None)
    merge_usage(totals, {"input_tokens": 5, "output_tokens": 1, "cache_read_input_tokens": None})
    merge_usage(totals, {"output_tokens": 9, "input_tokens": True})  # bools are not counts
    assert totals == {"input_tokens": 5, "output_tokens": 9}
    assert usage_from(totals).total_tokens == 14
