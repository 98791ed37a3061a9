"""The streaming hot path: the byte relay of OpenAI-compatible chunks, and chunks
that arrive together travelling together without any chunk waiting for another."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from services.provider.adapters import groq, openai
from services.provider.adapters.base import Call, Chunk, Credential, Operation, StreamEnd
from services.provider.adapters.holdback import Holdback
from services.provider.adapters.openai_compat import OpenAICompatAdapter
from services.provider.adapters.openai_compat.relay import EnvelopeRelay
from services.provider.adapters.openai_compat.stream import StreamTranslator
from services.provider.http import PooledHttp
from services.provider.settings import Timeouts
from tests.provider.core_support import REDACTOR

HEAD = '{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"up-1",'


def token(text: str, *, usage_null: bool = False) -> str:
    tail = ',"usage":null' if usage_null else ""
    content = orjson.dumps(text).decode()
    return (
        HEAD + '"system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":'
        f'{content}}},"logprobs":null,"finish_reason":null}}]{tail}}}'
    )


class _NeverRelay(EnvelopeRelay):
    def relay(self, raw: str) -> bytes | None:
        return None


def full_path(events: list[str], *, include_usage: bool, spec: Any = openai.SPEC) -> list[Any]:
    """What the translator sends when every chunk is parsed (the relay disabled)."""
    translator = StreamTranslator(spec, response_model="mini", include_usage=include_usage)
    translator._relay = _NeverRelay((), include_usage=include_usage)
    return [c.body for e in events for c in translator.feed(e)]


def relayed(
    events: list[str], *, include_usage: bool, spec: Any = openai.SPEC
) -> tuple[list[Any], int]:
    translator = StreamTranslator(spec, response_model="mini", include_usage=include_usage)
    out = [c for e in events for c in translator.feed(e)]
    unparsed = sum(1 for c in out if c._body is None)
    return [c.body for c in out], unparsed


@given(
    st.lists(st.text(max_size=40), min_size=1, max_size=12),
    st.booleans(),
    st.booleans(),
)
def test_the_relay_sends_exactly_what_the_full_path_sends(
    texts: list[str], include_usage: bool, usage_null: bool
) -> None:
    events = [token(text, usage_null=usage_null) for text in texts]
    expected = full_path(events, include_usage=include_usage)
    got, unparsed = relayed(events, include_usage=include_usage)
    assert got == expected
    assert unparsed == len(events) - 1  # only the first chunk is parsed


def test_the_client_sees_its_own_model_and_the_first_id() -> None:
    _, unparsed = relayed([token("a"), token("b")], include_usage=False)
    translator = StreamTranslator(openai.SPEC, response_model="mini", include_usage=False)
    translator.feed(token("a"))
    (chunk,) = translator.feed(token("b"))
    assert chunk._body is None and unparsed == 1
    assert chunk.json.startswith(
        b'{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"mini",'
    )
    assert b'"usage"' not in chunk.json


@pytest.mark.parametrize(
    "later",
    [
        # usage must be parsed (accounting), an error must be raised, a private field dropped
        HEAD + '"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}',
        HEAD + '"choices":[{"index":0,"delta":{},"finish_reason":null}],"x_groq":{"id":"q"}}',
        # another envelope, a spaced envelope, a multi-line event, no choices
        token("x").replace("chatcmpl-1", "chatcmpl-2"),
        token("x").replace('"model":"up-1",', '"model": "up-1",'),
        token("x").replace('"choices":', '\n"choices":'),
        HEAD + '"choices":[]}',
    ],
)
def test_anything_unusual_takes_the_full_path(later: str) -> None:
    translator = StreamTranslator(groq.SPEC, response_model="mini", include_usage=True)
    translator.feed(token("first"))
    for chunk in translator.feed(later):
        assert chunk._json is None  # built from the parsed chunk, not relayed


def test_an_upstream_that_orders_its_envelope_otherwise_is_always_parsed() -> None:
    reordered = (
        token("a")
        .replace('"object":"chat.completion.chunk","created":1700000000,', "")
        .replace('"model":"up-1",', '"model":"up-1","object":"chat.completion.chunk","created":1,')
    )
    _, unparsed = relayed([reordered, reordered], include_usage=False)
    assert unparsed == 0


def test_holdback_marks_all_but_the_last_of_a_read() -> None:
    hold = Holdback()
    a, b, c = Chunk({"n": 1}), Chunk({"n": 2}), Chunk({"n": 3})
    assert hold.push(a) is None
    assert hold.push(b) is a and a.more
    released = hold.release(more=False)
    assert released is b and not b.more
    assert hold.release(more=True) is None
    hold.push(c)
    assert hold.release(more=True) is c and c.more


def test_a_chunk_is_its_body_or_its_bytes() -> None:
    assert Chunk(json=b'{"a":1}').body == {"a": 1}
    assert Chunk({"a": 1}).json == b'{"a":1}'
    assert Chunk({"a": 1}) == Chunk(json=b'{"a":1}')
    with pytest.raises(ValueError, match="needs a body"):
        Chunk()


class _GatedUpstream:
    """An upstream that sends two chunks in one write, then waits for the test."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> _GatedUpstream:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/v1"
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        await response.write(f"data: {token('a')}\n\ndata: {token('b')}\n\n".encode())
        await self.gate.wait()
        usage = '"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":3,"total_tokens":4}}'
        await response.write(
            f"data: {token('c')}\n\ndata: {HEAD}{usage}\n\ndata: [DONE]\n\n".encode()
        )
        return response


@pytest.fixture
async def gated() -> AsyncIterator[tuple[_GatedUpstream, OpenAICompatAdapter]]:
    async with _GatedUpstream() as upstream:
        http = PooledHttp("openai", upstream.url, timeouts=Timeouts(first_byte_s=30.0))
        await http.start()
        try:
            yield upstream, OpenAICompatAdapter(openai.SPEC, http, redactor=REDACTOR)
        finally:
            await http.close()


async def test_chunks_of_one_read_travel_together_and_none_waits(
    gated: tuple[_GatedUpstream, OpenAICompatAdapter],
) -> None:
    upstream, adapter = gated
    call = Call(
        operation=Operation.CHAT,
        body={"messages": [{"role": "user", "content": "hi"}], "stream": True},
        upstream_model="up-1",
        response_model="mini",
        request_id="req-1",
        credential=Credential(key_id="key_1", secret="sk-test-0123456789"),
    )
    stream = adapter.stream(call)
    first, second = await anext(stream), await anext(stream)
    # Both came in one read: the first says another follows, the second is the end of
    # that read and went out although the upstream has not sent anything more yet.
    assert (first.body["choices"][0]["delta"]["content"], first.more) == ("a", True)
    assert (second.body["choices"][0]["delta"]["content"], second.more) == ("b", False)
    assert not upstream.gate.is_set()
    upstream.gate.set()
    rest = [item async for item in stream]
    assert isinstance(rest[-1], StreamEnd) and rest[-1].usage.total_tokens == 4
    (last,) = rest[:-1]
    assert isinstance(last, Chunk) and last.more  # travels with the end of the stream
