"""A bounded closed-loop HTTP/1.1 load driver on raw asyncio protocols.

Each of `concurrency` keep-alive connections sends a request, reads the whole
response (content-length or chunked), records the latency and the time to the
first body byte, and sends the next, until `requests` have completed or
`max_seconds` have passed. Hand-written on `asyncio.Protocol` rather than an
HTTP library because the driver shares a core with the upstream and must stay
far cheaper than what it measures (aiohttp's client costs ~10x more per
request); it only parses what it needs to find the end of a response.
Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import cast

__all__ = ["LoadResult", "percentile", "run_load"]

_HEAD_END = b"\r\n\r\n"


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(pct) - 1]


@dataclass
class LoadResult:
    concurrency: int
    latencies_ms: list[float] = field(default_factory=list)
    first_byte_ms: list[float] = field(default_factory=list)
    errors: int = 0
    wall_s: float = 0.0

    @property
    def completed(self) -> int:
        return len(self.latencies_ms)

    @property
    def p50(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 99)

    @property
    def ttft_p50(self) -> float:
        return percentile(self.first_byte_ms, 50)

    @property
    def throughput(self) -> float:
        return self.completed / self.wall_s if self.wall_s else 0.0

    def merge(self, other: LoadResult) -> None:
        self.latencies_ms += other.latencies_ms
        self.first_byte_ms += other.first_byte_ms
        self.errors += other.errors
        self.wall_s += other.wall_s


class _Response:
    """Incremental parse of one response: enough to know its status and its end."""

    __slots__ = ("_buffer", "_chunked", "_remaining", "done", "first_body_at", "status")

    def __init__(self) -> None:
        self._buffer = b""
        self._chunked = False
        self._remaining = -1  # body bytes left (content-length) or of the current chunk
        self.status = 0
        self.done = False
        self.first_body_at = 0.0

    def feed(self, data: bytes) -> bytes:
        """Consume `data`; return what belongs to the next response (normally nothing)."""
        self._buffer += data
        if not self.status:
            end = self._buffer.find(_HEAD_END)
            if end < 0:
                return b""
            self._head(self._buffer[:end])
            self._buffer = self._buffer[end + len(_HEAD_END) :]
        if self._buffer and not self.first_body_at:
            self.first_body_at = time.perf_counter()
        return self._chunks() if self._chunked else self._sized()

    def _head(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        self.status = int(lines[0].split(b" ", 2)[1])
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                self._remaining = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                self._chunked = True
                self._remaining = -1

    def _sized(self) -> bytes:
        if len(self._buffer) < self._remaining:
            return b""
        rest = self._buffer[self._remaining :]
        self._buffer = b""
        self.done = True
        return rest

    def _chunks(self) -> bytes:
        while True:
            if self._remaining < 0:  # at a chunk-size line
                line_end = self._buffer.find(b"\r\n")
                if line_end < 0:
                    return b""
                size = int(self._buffer[:line_end].split(b";", 1)[0], 16)
                self._buffer = self._buffer[line_end + 2 :]
                if size == 0:
                    if not self._buffer.startswith(b"\r\n"):  # trailers are not expected
                        end = self._buffer.find(_HEAD_END)
                        if end < 0:
                            return b""
                        self._buffer = self._buffer[end + 2 :]
                    rest = self._buffer[2:]
                    self.done = True
                    return rest
                self._remaining = size
            if len(self._buffer) < self._remaining + 2:
                return b""
            self._buffer = self._buffer[self._remaining + 2 :]
            self._remaining = -1


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._response = _Response()
        self._waiter: asyncio.Future[_Response] | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but the same interface.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._response.feed(data)
        if self._response.done and self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(self._response)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ConnectionError("connection closed"))

    async def exchange(self, request: bytes) -> _Response:
        assert self.transport is not None
        self._response = _Response()
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self._waiter


def _request(host: str, path: str, body: bytes, headers: Mapping[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def run_load(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    concurrency: int,
    requests: int,
    max_seconds: float,
    warmup: int = 20,
) -> LoadResult:
    """`requests` POSTs over `concurrency` keep-alive connections, after a warm-up."""
    assert url.startswith("http://")
    hostport, _, path = url[len("http://") :].partition("/")
    host, _, port = hostport.partition(":")
    request = _request(hostport, "/" + path, body, headers)
    loop = asyncio.get_running_loop()
    pool: list[_Connection | None] = [None] * concurrency

    async def phase(count: int, limit_s: float, result: LoadResult) -> None:
        remaining = count
        deadline = time.perf_counter() + limit_s

        async def worker(slot: int) -> None:
            nonlocal remaining
            while remaining > 0 and time.perf_counter() < deadline:
                remaining -= 1
                connection = pool[slot]
                if connection is None or connection.lost:
                    _, connection = await loop.create_connection(_Connection, host, int(port))
                    pool[slot] = connection
                started = time.perf_counter()
                try:
                    response = await connection.exchange(request)
                except ConnectionError:
                    pool[slot] = None
                    result.errors += 1
                    continue
                if response.status != 200:
                    result.errors += 1
                    continue
                result.latencies_ms.append((time.perf_counter() - started) * 1000.0)
                result.first_byte_ms.append((response.first_body_at - started) * 1000.0)

        began = time.perf_counter()
        await asyncio.gather(*(worker(slot) for slot in range(concurrency)))
        result.wall_s = time.perf_counter() - began

    try:
        await phase(max(warmup, concurrency), max_seconds, LoadResult(concurrency))
        result = LoadResult(concurrency)
        await phase(requests, max_seconds, result)
        return result
    finally:
        for connection in pool:
            if connection is not None and connection.transport is not None:
                connection.transport.close()
