"""The pooled upstream client against a local aiohttp server on port 0."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import aiohttp
import grpc
import pytest
from aiohttp import web

from services.kernel.errors import GatewayError
from services.provider.http import DisabledHttp, PooledHttp, rate_limits
from services.provider.settings import DEFAULT_POOL, DEFAULT_TIMEOUTS, PoolLimits, Timeouts
from services.provider.vocabulary import Vocabulary

SAFETY_S = 20.0  # a hang guard, never an assertion


class Upstream:
    """A scripted upstream: records peers, gates and disconnects."""

    def __init__(self) -> None:
        self.peers: list[object] = []
        self.gate = asyncio.Event()
        self.disconnected = asyncio.Event()
        self.never = asyncio.Event()
        self.app = web.Application()
        self.app.router.add_post("/json", self.json)
        self.app.router.add_post("/error", self.error)
        self.app.router.add_post("/hang-headers", self.hang_headers)
        self.app.router.add_post("/hang-body", self.hang_body)
        self.app.router.add_post("/sse", self.sse)
        self.app.router.add_post("/sse-stall", self.sse_stall)
        self.app.router.add_post("/sse-forever", self.sse_forever)

    def _peer(self, request: web.Request) -> None:
        assert request.transport is not None
        self.peers.append(request.transport.get_extra_info("peername"))

    async def json(self, request: web.Request) -> web.Response:
        self._peer(request)
        body = await request.read()
        headers = {
            "x-ratelimit-remaining-requests": "99",
            "anthropic-ratelimit-tokens-remaining": "1000",
            "x-unrelated": "1",
            "x-seen-auth": request.headers.get("Authorization", ""),
        }
        return web.Response(body=b'{"echo":' + body + b"}", headers=headers)

    async def error(self, request: web.Request) -> web.Response:
        self._peer(request)
        return web.json_response(
            {"error": {"message": "slow down", "type": "rate_limit_error"}},
            status=429,
            headers={"retry-after": "2"},
        )

    async def hang_headers(self, request: web.Request) -> web.Response:
        await self.never.wait()
        raise AssertionError("unreachable")

    async def hang_body(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b'{"partial":')
        await self.never.wait()
        return response

    async def _sse(self, request: web.Request) -> web.StreamResponse:
        self._peer(request)
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        return response

    async def sse(self, request: web.Request) -> web.StreamResponse:
        response = await self._sse(request)
        await response.write(b": keep-alive\r\n\r\nevent: first\r\ndata: 1\r\n\r\n")
        await self.gate.wait()  # only the client's reaction to event 1 releases event 2
        await response.write(b"data: 2\n")
        await response.write(b"data: 2b\n\ndata: [DONE]")  # final event without blank line
        await response.write_eof()
        return response

    async def sse_stall(self, request: web.Request) -> web.StreamResponse:
        response = await self._sse(request)
        await response.write(b"data: 1\n\n")
        await self.never.wait()
        return response

    async def sse_forever(self, request: web.Request) -> web.StreamResponse:
        response = await self._sse(request)
        try:
            await response.write(b"data: 1\n\n")
            await self.never.wait()
        except asyncio.CancelledError:
            self.disconnected.set()
            raise
        return response


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[Upstream, str]]:
    server = Upstream()
    runner = web.AppRunner(server.app, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield server, f"http://127.0.0.1:{port}"
    finally:
        server.never.set()
        await runner.cleanup()


@contextlib.asynccontextmanager
async def client(
    base_url: str, timeouts: Timeouts = DEFAULT_TIMEOUTS, pool: PoolLimits = DEFAULT_POOL
) -> AsyncIterator[PooledHttp]:
    http = PooledHttp("testprov", base_url, timeouts=timeouts, pool=pool)
    await http.start()
    try:
        yield http
    finally:
        await http.close()


async def test_post_reads_status_headers_body_and_timing(upstream: tuple[Upstream, str]) -> None:
    _, url = upstream
    async with client(url) as http:
        response = await http.post("/json", headers={"Authorization": "Bearer k"}, body=b'{"a":1}')
    assert response.status == 200
    assert response.body == b'{"echo":{"a":1}}'
    assert response.headers["x-seen-auth"] == "Bearer k"
    assert all(name == name.lower() for name in response.headers)
    assert response.timing.total_ms >= response.timing.first_byte_ms > 0


async def test_rate_limit_headers_are_captured(upstream: tuple[Upstream, str]) -> None:
    _, url = upstream
    async with client(url) as http:
        response = await http.post("/json", headers={}, body=b"1")
    assert rate_limits(response.headers) == {"x-ratelimit-remaining-requests": "99"}
    own = Vocabulary(rate_limit_prefixes=("anthropic-ratelimit-",))
    assert rate_limits(response.headers, own) == {
        "x-ratelimit-remaining-requests": "99",
        "anthropic-ratelimit-tokens-remaining": "1000",
    }


async def test_error_status_is_returned_not_raised(upstream: tuple[Upstream, str]) -> None:
    _, url = upstream
    async with client(url) as http:
        response = await http.post("/error", headers={}, body=b"{}")
    assert response.status == 429
    assert rate_limits(response.headers) == {"retry-after": "2"}


async def test_connections_are_kept_alive_and_reused(upstream: tuple[Upstream, str]) -> None:
    server, url = upstream
    async with client(url) as http:
        for _ in range(5):
            await http.post("/json", headers={}, body=b"1")
        async with http.stream("/sse-stall", headers={}, body=b"{}") as stream:
            assert stream.status == 200
        await http.post("/json", headers={}, body=b"1")
    assert len(set(server.peers[:5])) == 1
    # The stream was left unread: its connection was dropped, not reused.
    assert server.peers[6] != server.peers[5]


async def test_a_fully_read_stream_returns_its_connection(upstream: tuple[Upstream, str]) -> None:
    server, url = upstream
    server.gate.set()
    async with client(url) as http:
        async with http.stream("/sse", headers={}, body=b"{}") as stream:
            assert [e.data async for e in stream.events()]
        await http.post("/json", headers={}, body=b"1")
    assert server.peers[0] == server.peers[1]


async def test_stream_relays_event_by_event(upstream: tuple[Upstream, str]) -> None:
    server, url = upstream

    async def consume() -> list[tuple[str, str]]:
        seen: list[tuple[str, str]] = []
        async with client(url) as http, http.stream("/sse", headers={}, body=b"{}") as stream:
            assert stream.status == 200
            assert stream.headers["content-type"] == "text/event-stream"
            async for event in stream.events():
                seen.append((event.event, event.data))
                server.gate.set()  # the upstream sends more only after we saw event 1
            assert stream.first_byte_ms > 0
            assert stream.elapsed_ms >= stream.first_byte_ms
        return seen

    seen = await asyncio.wait_for(consume(), SAFETY_S)
    assert seen == [("first", "1"), ("", "2\n2b"), ("", "[DONE]")]


async def test_read_body_of_a_streamed_error(upstream: tuple[Upstream, str]) -> None:
    _, url = upstream
    async with client(url) as http, http.stream("/error", headers={}, body=b"{}") as stream:
        assert stream.status == 429
        assert b"slow down" in await stream.read_body()
        assert stream.rate_limits == {"retry-after": "2"}


async def test_cancelling_the_consumer_closes_the_upstream_connection(
    upstream: tuple[Upstream, str],
) -> None:
    server, url = upstream
    first = asyncio.Event()

    async def consume(http: PooledHttp) -> None:
        async with http.stream("/sse-forever", headers={}, body=b"{}") as stream:
            async for _ in stream.events():
                first.set()

    async with client(url) as http:
        task = asyncio.create_task(consume(http))
        await asyncio.wait_for(first.wait(), SAFETY_S)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(server.disconnected.wait(), SAFETY_S)


async def expect_gateway_error(awaitable: object) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        await asyncio.wait_for(awaitable, SAFETY_S)  # type: ignore[arg-type]
    return caught.value


async def test_first_byte_timeout(upstream: tuple[Upstream, str]) -> None:
    _, url = upstream
    async with client(url, Timeouts(first_byte_s=0.05)) as http:
        error = await expect_gateway_error(http.post("/hang-headers", headers={}, body=b"{}"))
    assert (error.code, error.status) == ("upstream_timeout", grpc.StatusCode.DEADLINE_EXCEEDED)
    assert error.retryable
    assert error.metadata["phase"] == "first_byte"


async def test_total_timeout_while_reading_the_body(upstream: tuple[Upstream, str]) -> None:
    _, url = upstream
    async with client(url, Timeouts(first_byte_s=30, total_s=0.1)) as http:
        error = await expect_gateway_error(http.post("/hang-body", headers={}, body=b"{}"))
    assert error.code == "upstream_timeout"
    assert error.metadata["phase"] == "total"


async def test_stream_idle_timeout(upstream: tuple[Upstream, str]) -> None:
    _, url = upstream

    async def consume(http: PooledHttp) -> list[str]:
        seen = []
        async with http.stream("/sse-stall", headers={}, body=b"{}") as stream:
            async for event in stream.events():
                seen.append(event.data)
        return seen

    async with client(url, Timeouts(stream_idle_s=0.05)) as http:
        error = await expect_gateway_error(consume(http))
    assert error.code == "upstream_timeout"
    assert error.metadata["phase"] == "stream_idle"
    assert error.retryable


async def test_waiting_for_a_pooled_connection_is_a_connect_timeout(
    upstream: tuple[Upstream, str],
) -> None:
    _, url = upstream
    async with client(url, Timeouts(connect_s=0.05), PoolLimits(max_connections=1)) as http:
        async with http.stream("/sse-stall", headers={}, body=b"{}"):
            error = await expect_gateway_error(http.post("/json", headers={}, body=b"1"))
    assert (error.code, error.status) == ("upstream_connect_timeout", grpc.StatusCode.UNAVAILABLE)
    assert error.retryable


async def test_connection_refused_is_a_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with client(f"http://127.0.0.1:{port}") as http:
        error = await expect_gateway_error(http.post("/json", headers={}, body=b"1"))
    assert (error.code, error.status) == ("upstream_connect_error", grpc.StatusCode.UNAVAILABLE)
    assert error.retryable
    assert error.metadata == {"provider": "testprov"}


async def test_server_closing_mid_body_is_connection_lost() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"partial')
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with client(f"http://127.0.0.1:{port}") as http:
            error = await expect_gateway_error(http.post("/x", headers={}, body=b"1"))
    finally:
        server.close()
        await server.wait_closed()
    assert error.code == "upstream_connection_lost"
    assert error.retryable


async def test_use_before_start_is_an_internal_error() -> None:
    http = PooledHttp("testprov", "http://127.0.0.1:9")
    error = await expect_gateway_error(http.post("/x", headers={}, body=b""))
    assert error.code == "provider_internal_error"


async def test_disabled_http_refuses_calls() -> None:
    http = DisabledHttp("mock")
    error = await expect_gateway_error(http.post("/x", headers={}, body=b""))
    assert error.code == "provider_internal_error"
    with pytest.raises(GatewayError):
        async with http.stream("/x", headers={}, body=b""):
            pass


async def test_start_and_close_are_idempotent(upstream: tuple[Upstream, str]) -> None:
    _, url = upstream
    http = PooledHttp("testprov", url)
    await http.start()
    await http.start()
    await http.close()
    await http.close()
    assert isinstance(aiohttp.__version__, str)
