"""The incremental SSE parser: framing rules, chunk boundaries, end of stream."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.provider.adapters.base import SseEvent
from services.provider.sse import SseParser


def parse(*chunks: bytes) -> list[SseEvent]:
    parser = SseParser()
    events: list[SseEvent] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    events.extend(parser.close())
    return events


def test_openai_style_data_only_events() -> None:
    stream = b'data: {"a":1}\n\ndata: {"a":2}\n\ndata: [DONE]\n\n'
    assert parse(stream) == [
        SseEvent("", '{"a":1}'),
        SseEvent("", '{"a":2}'),
        SseEvent("", "[DONE]"),
    ]


def test_anthropic_style_named_events() -> None:
    stream = (
        b"event: message_start\ndata: {}\n\n"
        b"event: ping\ndata: {}\n\n"
        b"event: content_block_delta\ndata: {}\n\n"
    )
    assert [e.event for e in parse(stream)] == ["message_start", "ping", "content_block_delta"]


def test_event_name_resets_after_dispatch() -> None:
    assert parse(b"event: a\ndata: 1\n\ndata: 2\n\n") == [SseEvent("a", "1"), SseEvent("", "2")]


def test_multi_line_data_joins_with_newline() -> None:
    assert parse(b"data: first\ndata: second\ndata:third\n\n") == [
        SseEvent("", "first\nsecond\nthird")
    ]


def test_only_one_leading_space_is_dropped() -> None:
    assert parse(b"data:  two spaces\n\n") == [SseEvent("", " two spaces")]


def test_empty_data_line_dispatches_empty_string() -> None:
    assert parse(b"data:\n\n") == [SseEvent("", "")]
    assert parse(b"data\n\n") == [SseEvent("", "")]


def test_comments_and_keepalives_are_ignored() -> None:
    assert parse(b": keep-alive\n\n:ping\ndata: x\n\n: bye\n\n") == [SseEvent("", "x")]


def test_event_without_data_is_not_dispatched() -> None:
    assert parse(b"event: lonely\n\ndata: x\n\n") == [SseEvent("", "x")]


def test_unknown_fields_are_ignored() -> None:
    assert parse(b"id: 7\nretry: 100\nfoo: bar\ndata: x\n\n") == [SseEvent("", "x")]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_every_line_ending(newline: bytes) -> None:
    stream = newline.join([b"event: e", b"data: 1", b"", b"data: 2", b"", b""])
    assert parse(stream) == [SseEvent("e", "1"), SseEvent("", "2")]


def test_crlf_split_across_chunks_is_one_line_break() -> None:
    # "\r" ends one chunk, "\n" starts the next: still one line break, not a blank line.
    assert parse(b"data: a\r", b"\ndata: b\r\n\r\n") == [SseEvent("", "a\nb")]


def test_cr_then_partial_line_in_one_chunk() -> None:
    assert parse(b"data: a\rdata: b", b"\n\n") == [SseEvent("", "a\nb")]


def test_final_event_without_trailing_blank_line() -> None:
    assert parse(b"data: 1\n\ndata: last") == [SseEvent("", "1"), SseEvent("", "last")]
    assert parse(b"data: last\n") == [SseEvent("", "last")]


def test_events_arrive_as_soon_as_they_complete() -> None:
    parser = SseParser()
    assert parser.feed(b"data: he") == []
    assert parser.feed(b"llo\n") == []
    assert parser.feed(b"\n") == [SseEvent("", "hello")]
    assert parser.feed(b"data: next\n\n") == [SseEvent("", "next")]
    assert parser.close() == []


def test_utf8_split_inside_a_character() -> None:
    text = "données 日本語 🚀".encode()
    chunks = [b"data: " + text[:9], text[9:17], text[17:] + b"\n\n"]
    assert parse(*chunks) == [SseEvent("", "données 日本語 🚀")]


def test_byte_order_mark_is_skipped_even_when_split() -> None:
    assert parse(b"\xef\xbb", b"\xbfdata: x\n\n") == [SseEvent("", "x")]


def test_empty_feeds_are_harmless() -> None:
    assert parse(b"", b"data: x\n\n", b"") == [SseEvent("", "x")]


_events = st.lists(
    st.tuples(
        st.text(alphabet=st.characters(blacklist_characters="\r\n:", codec="utf-8"), max_size=8),
        st.lists(
            st.text(
                alphabet=st.characters(blacklist_characters="\r\n", codec="utf-8"), max_size=20
            ),
            min_size=1,
            max_size=3,
        ),
    ),
    max_size=6,
)


@settings(max_examples=150, deadline=None)
@given(events=_events, newline=st.sampled_from(["\n", "\r\n", "\r"]), data=st.data())
def test_any_chunking_gives_the_same_events(
    events: list[tuple[str, list[str]]], newline: str, data: st.DataObject
) -> None:
    lines: list[str] = []
    for name, datas in events:
        if name.strip():
            lines.append(f"event: {name}")
        lines.extend(f"data: {d}" for d in datas)
        lines.append("")
    raw = (newline.join(lines) + (newline if lines else "")).encode()
    cuts = sorted(data.draw(st.sets(st.integers(0, len(raw)), max_size=8)))
    chunks = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    expected = [SseEvent(name if name.strip() else "", "\n".join(datas)) for name, datas in events]
    assert parse(*chunks) == expected
    assert parse(raw) == expected
