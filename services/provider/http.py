"""The pooled keep-alive upstream client (`adapters.base.UpstreamHttp` on aiohttp).

One `ClientSession` + `TCPConnector` per provider, opened at start-up and
closed at shutdown: connections are reused across calls, DNS answers cached.
Time limits (see config.Timeouts) and transport failures become canonical
`GatewayError`s (errors.py). Streams are relayed event by event; leaving the
`stream()` block early — an error, or the gRPC call being cancelled — closes
the upstream connection at once instead of returning it to the pool.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import NoReturn

import aiohttp
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from yarl import URL

from services.kernel.errors import GatewayError
from services.provider import errors
from services.provider.adapters.base import SseEvent, Timing, UpstreamResponse
from services.provider.settings import DEFAULT_POOL, DEFAULT_TIMEOUTS, PoolLimits, Timeouts
from services.provider.sse import SseEventTooLarge, SseParser
from services.provider.vocabulary import GENERIC, RATE_LIMIT_NAMES, RATE_LIMIT_PREFIX, Vocabulary

__all__ = ["DisabledHttp", "PooledHttp", "call_limits", "rate_limits"]

# The time limits of the call being served — the deployment's, from the Invocation —
# set by the servicer for the task that serves one RPC, so that every adapter's
# upstream requests honour them without each adapter passing them along.
# (first byte, total) in seconds; 0 keeps the provider's own limit.
_CALL_LIMITS: ContextVar[tuple[float, float]] = ContextVar("call_limits", default=(0.0, 0.0))


@contextmanager
def call_limits(first_byte_s: float, total_s: float) -> Iterator[None]:
    """Apply a deployment's limits to the upstream requests made inside the block.

    The previous value is put back by value, not by token: a streaming servicer is an
    async generator, which an in-process caller may close from another task (another
    context), where a token cannot be reset."""
    previous = _CALL_LIMITS.get()
    _CALL_LIMITS.set((first_byte_s, total_s))
    try:
        yield
    finally:
        _CALL_LIMITS.set(previous)


_log = logging.getLogger(__name__)
_tracer = trace.get_tracer(__name__)


# Only `traceparent`, built from this call's own span: never the global propagators,
# which would also write `baggage` and `tracestate` — values a client sent the edge —
# into requests to third-party providers.
_TRACE_CONTEXT = TraceContextTextMapPropagator()


def _traced(headers: Mapping[str, str], span: trace.Span) -> dict[str, str]:
    """The upstream request's headers plus W3C `traceparent` for this call's span,
    so the trace continues into the upstream (and into our emulators in tests)."""
    carrier = dict(headers)
    _TRACE_CONTEXT.inject(carrier, context=trace.set_span_in_context(span))
    carrier.pop("tracestate", None)
    return carrier


USER_AGENT = "agentopia-provider/0.1"


def rate_limits(headers: Mapping[str, str], vocabulary: Vocabulary = GENERIC) -> dict[str, str]:
    """The rate-limit headers of an upstream response (lower-case names): Retry-After,
    `x-ratelimit-*` and the provider's own prefixes (its vocabulary's)."""
    prefixes = (RATE_LIMIT_PREFIX, *vocabulary.rate_limit_prefixes)
    return {
        name: value
        for name, value in headers.items()
        if name in RATE_LIMIT_NAMES or name.startswith(prefixes)
    }


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _transport_failure(provider: str, exc: aiohttp.ClientError) -> GatewayError:
    detail = type(exc).__name__
    if isinstance(exc, aiohttp.ClientConnectorError):
        return errors.connect_error(provider, f"{detail}: {exc.os_error.__class__.__name__}")
    if isinstance(exc, aiohttp.ClientResponseError):
        return errors.invalid_upstream_response(provider, f"{detail} {exc.status}")
    return errors.connection_lost(provider, detail)


class PooledHttp:
    """Keep-alive HTTP client for one provider's base URL."""

    def __init__(
        self,
        provider: str,
        base_url: str,
        *,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        pool: PoolLimits = DEFAULT_POOL,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.timeouts = timeouts
        self.pool = pool
        self._session: aiohttp.ClientSession | None = None
        self._urls: dict[str, URL] = {}
        self._client_timeout = aiohttp.ClientTimeout(
            total=None, connect=timeouts.connect_s, sock_connect=timeouts.connect_s
        )

    async def start(self) -> None:
        """Open the pool (inside the running loop, as aiohttp requires)."""
        if self._session is not None:
            return
        connector = aiohttp.TCPConnector(
            limit=self.pool.max_connections,
            limit_per_host=0,
            use_dns_cache=True,
            ttl_dns_cache=self.pool.dns_ttl_s,
            keepalive_timeout=self.pool.keepalive_s,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._client_timeout,
            headers={"User-Agent": USER_AGENT},
            raise_for_status=False,
        )

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _url(self, path: str) -> URL:
        url = self._urls.get(path)
        if url is None:
            url = URL(self.base_url + path)
            self._urls[path] = url
        return url

    def _limits(self) -> tuple[float, float]:
        """(first byte, total) for this call: the deployment's where it set them."""
        first_byte, total = _CALL_LIMITS.get()
        total = total or self.timeouts.total_s
        return min(first_byte or self.timeouts.first_byte_s, total), total

    def _raise_timeout(self, phase: str, limit: float | None = None) -> NoReturn:
        if limit is None:
            limit = {
                "connect": self.timeouts.connect_s,
                "first_byte": self.timeouts.first_byte_s,
                "total": self.timeouts.total_s,
                "stream_idle": self.timeouts.stream_idle_s,
            }[phase]
        raise errors.timeout_error(self.provider, phase, limit) from None

    async def _open(
        self, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[aiohttp.ClientResponse, float, float]:
        """Send the request and wait for the response headers.

        Returns the response, the loop time it was sent and the total deadline."""
        if self._session is None:
            raise errors.internal_error(self.provider)
        loop = asyncio.get_running_loop()
        sent = loop.time()
        first_byte_s, total_s = self._limits()
        deadline = sent + total_s
        first_byte_deadline = min(sent + first_byte_s, deadline)
        try:
            async with asyncio.timeout_at(first_byte_deadline):
                response = await self._session.post(self._url(path), data=body, headers=headers)
        except aiohttp.ConnectionTimeoutError:
            self._raise_timeout("connect")
        except TimeoutError:
            if first_byte_deadline < deadline:
                self._raise_timeout("first_byte", first_byte_s)
            self._raise_timeout("total", total_s)
        except aiohttp.ClientError as exc:
            raise _transport_failure(self.provider, exc) from None
        return response, sent, deadline

    async def post(self, path: str, *, headers: Mapping[str, str], body: bytes) -> UpstreamResponse:
        """POST and read the complete response (any status)."""
        span = _tracer.start_span(f"POST {path}", kind=trace.SpanKind.CLIENT)
        span.set_attribute("agentopia.provider", self.provider)
        try:
            response, sent, deadline = await self._open(path, _traced(headers, span), body)
            loop = asyncio.get_running_loop()
            first_byte_ms = (loop.time() - sent) * 1000.0
            span.set_attribute("http.response.status_code", response.status)
            try:
                async with asyncio.timeout_at(deadline):
                    data = await _read_bounded(response, self.pool.max_response_bytes)
            except TimeoutError:
                response.close()
                self._raise_timeout("total", deadline - sent)
            except aiohttp.ClientError as exc:
                response.close()
                raise _transport_failure(self.provider, exc) from None
            except _TooLarge:
                response.close()
                raise errors.response_too_large(
                    self.provider, "a response", self.pool.max_response_bytes
                ) from None
            except BaseException:
                response.close()
                raise
            response.release()
            total_ms = (loop.time() - sent) * 1000.0
            return UpstreamResponse(
                status=response.status,
                headers=_lower(response.headers),
                body=data,
                timing=Timing(first_byte_ms=first_byte_ms, total_ms=total_ms),
            )
        except GatewayError as exc:
            span.set_attribute("error.type", exc.code)
            raise
        finally:
            span.end()

    @asynccontextmanager
    async def stream(
        self, path: str, *, headers: Mapping[str, str], body: bytes
    ) -> AsyncIterator[PooledStream]:
        """POST and hold the response open; leaving early closes the connection."""
        span = _tracer.start_span(f"POST {path} (stream)", kind=trace.SpanKind.CLIENT)
        span.set_attribute("agentopia.provider", self.provider)
        try:
            response, sent, deadline = await self._open(path, _traced(headers, span), body)
        except GatewayError as exc:
            span.set_attribute("error.type", exc.code)
            span.end()
            raise
        span.set_attribute("http.response.status_code", response.status)
        upstream = PooledStream(self, response, sent=sent, deadline=deadline)
        try:
            yield upstream
        except BaseException:
            response.close()  # cancelled or failed mid-stream: drop the connection now
            raise
        else:
            response.release()  # returns it to the pool only if fully read
        finally:
            span.end()


class PooledStream:
    """One open upstream response (implements adapters.base.UpstreamStream)."""

    def __init__(
        self,
        http: PooledHttp,
        response: aiohttp.ClientResponse,
        *,
        sent: float,
        deadline: float,
    ) -> None:
        self.status: int = response.status
        self.headers: Mapping[str, str] = _lower(response.headers)
        self._http = http
        self._response = response
        self._loop = asyncio.get_running_loop()
        self._sent = sent
        self._deadline = deadline
        self._headers_ms = (self._loop.time() - sent) * 1000.0
        self._first_byte_ms: float | None = None

    @property
    def first_byte_ms(self) -> float:
        """Until the first body byte (until the headers while no body byte came)."""
        return self._headers_ms if self._first_byte_ms is None else self._first_byte_ms

    @property
    def elapsed_ms(self) -> float:
        """Since the request was sent (a stream's total time when read at its end)."""
        return (self._loop.time() - self._sent) * 1000.0

    @property
    def rate_limits(self) -> dict[str, str]:
        return rate_limits(self.headers)

    async def read_chunk(self) -> bytes:
        """The bytes that have arrived (waiting for some); b"" at the end."""
        idle_deadline = self._loop.time() + self._http.timeouts.stream_idle_s
        when = min(idle_deadline, self._deadline)
        try:
            async with asyncio.timeout_at(when):
                chunk = await self._response.content.readany()
        except TimeoutError:
            if when >= self._deadline:
                self._http._raise_timeout("total", self._deadline - self._sent)
            self._http._raise_timeout("stream_idle")
        except aiohttp.ClientError as exc:
            raise _transport_failure(self._http.provider, exc) from None
        if chunk and self._first_byte_ms is None:
            self._first_byte_ms = (self._loop.time() - self._sent) * 1000.0
        return chunk

    async def read_body(self) -> bytes:
        """The whole body (for error statuses), bounded by PoolLimits.max_error_body_bytes."""
        limit = self._http.pool.max_error_body_bytes
        parts: list[bytes] = []
        size = 0
        while size < limit:
            chunk = await self.read_chunk()
            if not chunk:
                break
            parts.append(chunk)
            size += len(chunk)
        return b"".join(parts)[:limit]

    def events(self) -> _Events:
        """Server-sent events as they arrive, never buffered."""
        return _Events(self, self._http.provider, self._http.pool.max_event_bytes)


class _Events:
    """A class-based async iterator, so abandoning it leaves no generator to finalize."""

    __slots__ = ("_eof", "_max_event_bytes", "_parser", "_pending", "_provider", "_stream")

    def __init__(self, stream: PooledStream, provider: str, max_event_bytes: int) -> None:
        self._stream = stream
        self._provider = provider
        self._max_event_bytes = max_event_bytes
        self._parser = SseParser(max_event_bytes=max_event_bytes)
        self._pending: collections.deque[SseEvent] = collections.deque()
        self._eof = False

    def __aiter__(self) -> _Events:
        return self

    @property
    def buffered(self) -> bool:
        """The next event came in the same read as the last one: taking it will not wait."""
        return bool(self._pending)

    async def __anext__(self) -> SseEvent:
        while not self._pending:
            if self._eof:
                raise StopAsyncIteration
            chunk = await self._stream.read_chunk()
            if chunk:
                try:
                    self._pending.extend(self._parser.feed(chunk))
                except SseEventTooLarge:
                    raise errors.response_too_large(
                        self._provider, "a stream event", self._max_event_bytes
                    ) from None
            else:
                self._eof = True
                self._pending.extend(self._parser.close())
        return self._pending.popleft()


class _TooLarge(Exception):
    pass


async def _read_bounded(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole body, or `_TooLarge` as soon as it (or its declared length) passes
    `limit` — never buffering more than the bound."""
    if response.content_length is not None and response.content_length > limit:
        raise _TooLarge
    parts: list[bytes] = []
    size = 0
    while chunk := await response.content.readany():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        parts.append(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)


class DisabledHttp:
    """Stands in for providers that make no HTTP calls (no base URL, e.g. mock)."""

    def __init__(self, provider: str) -> None:
        self.provider = provider

    async def post(self, path: str, *, headers: Mapping[str, str], body: bytes) -> UpstreamResponse:
        raise errors.internal_error(self.provider)

    @asynccontextmanager
    async def stream(
        self, path: str, *, headers: Mapping[str, str], body: bytes
    ) -> AsyncIterator[PooledStream]:
        raise errors.internal_error(self.provider)
        yield  # pragma: no cover
