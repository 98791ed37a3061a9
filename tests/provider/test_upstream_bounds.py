"""What an upstream may send is bounded, in size and in time, so that a broken or
hostile endpoint can neither grow nor stall the provider service without limit: a
non-streaming body (declared or chunked) and one server-sent event — past a bound the
call fails with `upstream_response_too_large` (502, not retried) and the connection is
dropped rather than drained — and the deployment's first-byte and total limits, which
the Invocation carries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from services.kernel.errors import GatewayError
from services.provider.http import call_limits
from services.provider.settings import PoolLimits, Timeouts
from services.provider.sse import SseEventTooLarge, SseParser
from tests.provider.test_http_client import SAFETY_S, client

LIMIT = 4096


async def _declared(request: web.Request) -> web.Response:
    return web.Response(body=b"x" * (LIMIT + 1))


async def _chunked(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    response.enable_chunked_encoding()
    await response.prepare(request)
    for _ in range(8):
        await response.write(b"y" * 1024)
    await response.write_eof()
    return response


async def _within(request: web.Request) -> web.Response:
    return web.Response(body=b"z" * LIMIT)


async def _endless_line(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    await response.write(b"data: ok\n\n")
    for _ in range(16):
        await response.write(b"a" * 1024)  # one line that never ends
    await response.write_eof()
    return response


async def _endless_event(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    for _ in range(16):
        await response.write(b"data: " + b"b" * 1000 + b"\n")  # lines, never a blank one
    await response.write_eof()
    return response


@pytest.fixture
async def url() -> AsyncIterator[str]:
    app = web.Application()
    for path, handler in (
        ("/declared", _declared),
        ("/chunked", _chunked),
        ("/within", _within),
        ("/endless-line", _endless_line),
        ("/endless-event", _endless_event),
    ):
        app.router.add_post(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


POOL = PoolLimits(max_response_bytes=LIMIT, max_event_bytes=LIMIT)


@pytest.mark.parametrize("path", ["/declared", "/chunked"])
async def test_a_body_past_the_bound_is_refused(url: str, path: str) -> None:
    async with client(url, pool=POOL) as http:
        with pytest.raises(GatewayError) as raised:
            await asyncio.wait_for(http.post(path, headers={}, body=b"{}"), SAFETY_S)
    assert raised.value.code == "upstream_response_too_large"
    assert raised.value.http_status == 502
    assert not raised.value.retryable
    assert raised.value.metadata["provider"] == "testprov"


async def test_a_body_at_the_bound_is_read_whole(url: str) -> None:
    async with client(url, pool=POOL) as http:
        response = await http.post("/within", headers={}, body=b"{}")
    assert response.body == b"z" * LIMIT


@pytest.mark.parametrize("path", ["/endless-line", "/endless-event"])
async def test_a_stream_event_past_the_bound_is_refused(url: str, path: str) -> None:
    seen: list[str] = []
    async with client(url, pool=POOL) as http:
        with pytest.raises(GatewayError) as raised:
            async with http.stream(path, headers={}, body=b"{}") as stream:
                async with asyncio.timeout(SAFETY_S):
                    async for event in stream.events():
                        seen.append(event.data)
    assert raised.value.code == "upstream_response_too_large"
    assert "stream event" in raised.value.message
    assert seen in ([], ["ok"])  # nothing of the oversized event is ever relayed


def test_the_parser_bounds_an_unterminated_line_and_an_unended_event() -> None:
    parser = SseParser(max_event_bytes=10)
    assert [e.data for e in parser.feed(b"data: 0123456789\n\n")] == ["0123456789"]
    with pytest.raises(SseEventTooLarge):
        parser.feed(b"data: 01234567890")  # no line end yet, already past the bound
    parser = SseParser(max_event_bytes=10)
    parser.feed(b"data: 01234\n")
    with pytest.raises(SseEventTooLarge):
        parser.feed(b"data: 56789x\n")  # the event's data lines together pass it


async def _silent(request: web.Request) -> web.Response:
    await asyncio.Event().wait()  # never answers; cancelled when the client leaves
    raise AssertionError("unreachable")


@pytest.fixture
async def silent_url() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/silent", _silent)
    runner = web.AppRunner(app, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("first_byte_s", "total_s", "phase", "limit"),
    [(0.05, 30.0, "first_byte", "0.05s"), (30.0, 0.05, "total", "0.05s")],
)
async def test_a_deployments_limits_apply_to_the_calls_made_for_it(
    silent_url: str, first_byte_s: float, total_s: float, phase: str, limit: str
) -> None:
    """The provider's own limits are long (120 s first byte); the Invocation's win."""
    async with client(silent_url) as http:
        with call_limits(first_byte_s, total_s), pytest.raises(GatewayError) as raised:
            await asyncio.wait_for(http.post("/silent", headers={}, body=b"{}"), SAFETY_S)
    assert raised.value.code == "upstream_timeout"
    assert raised.value.metadata["phase"] == phase
    assert limit in raised.value.message


async def test_outside_a_call_the_providers_own_limits_hold(silent_url: str) -> None:
    async with client(silent_url, Timeouts(first_byte_s=0.05)) as http:
        with pytest.raises(GatewayError) as raised:
            await asyncio.wait_for(http.post("/silent", headers={}, body=b"{}"), SAFETY_S)
    assert raised.value.metadata["phase"] == "first_byte"
