"""The benchmark's OpenAI-style upstream (`python -m bench.upstream PORT_FILE`).

A raw asyncio HTTP/1.1 server with canned bodies, so that on its core it costs a
few microseconds per request and the benchmark measures the gateway, not an
emulator. The scenario is read from the request body: `"stream": true` answers
with `CHUNKS` chat.completion.chunk events `CHUNK_GAP_S` apart (plus the usage
chunk when `stream_options.include_usage` is set) and `data: [DONE]`; otherwise
one chat.completion. A request whose body holds the marker `bench-l<N>` (in the
prompt) waits N milliseconds before the first byte (the "50 ms upstream").

It also counts what it served (`GET /stats`), so a run can reconcile requests.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
from collections.abc import Callable
from typing import cast

__all__ = ["CHUNKS", "CHUNK_GAP_S", "UpstreamProtocol", "serve"]

CHUNKS = 20
CHUNK_GAP_S = 0.001
_LATENCY = re.compile(rb"bench-l(\d+)")
_STREAM = re.compile(rb'"stream"\s*:\s*true')
_USAGE = re.compile(rb'"include_usage"\s*:\s*true')
_HEAD_END = b"\r\n\r\n"
_MAX_HEAD = 64 * 1024

_COMPLETION = (
    b'{"id":"chatcmpl-bench","object":"chat.completion","created":%d,"model":"bench-model",'
    b'"choices":[{"index":0,"message":{"role":"assistant","content":"pong"},'
    b'"logprobs":null,"finish_reason":"stop"}],'
    b'"usage":{"prompt_tokens":8,"completion_tokens":20,"total_tokens":28}}'
)
_CHUNK_HEAD = (
    b'{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":%d,"model":"bench-model",'
)
_FIRST = b'"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}'
_TOKEN = b'"choices":[{"index":0,"delta":{"content":"tok "},"finish_reason":null}]}'
_LAST = b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}'
_USAGE_CHUNK = b'"choices":[],"usage":{"prompt_tokens":8,"completion_tokens":20,"total_tokens":28}}'


def _chunked(payload: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def _event(head: bytes, tail: bytes) -> bytes:
    return _chunked(b"data: " + head + tail + b"\n\n")


class UpstreamProtocol(asyncio.Protocol):
    """One keep-alive connection: parse requests, answer them in order."""

    def __init__(self, stats: dict[str, int]) -> None:
        self._stats = stats
        self._buffer = b""
        self._transport: asyncio.Transport | None = None
        self._busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but the same interface.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if not self._busy:
            self._next()

    def _next(self) -> None:
        end = self._buffer.find(_HEAD_END)
        if end < 0:
            if len(self._buffer) > _MAX_HEAD and self._transport is not None:
                self._transport.close()
            return
        head = self._buffer[:end].lower()
        match = re.search(rb"content-length:\s*(\d+)", head)
        length = int(match.group(1)) if match else 0
        total = end + len(_HEAD_END) + length
        if len(self._buffer) < total:
            return
        body = self._buffer[end + len(_HEAD_END) : total]
        self._buffer = self._buffer[total:]
        self._busy = True
        if head.startswith(b"get /stats"):
            self._answer_stats()
            return
        latency = _LATENCY.search(body)
        delay = int(latency.group(1)) / 1000.0 if latency else 0.0
        if _STREAM.search(body):
            self._stats["streams"] += 1
            start = self._start_stream(with_usage=bool(_USAGE.search(body)))
        else:
            self._stats["completions"] += 1
            start = self._complete
        if delay:
            asyncio.get_running_loop().call_later(delay, start)
        else:
            start()

    def _finished(self) -> None:
        self._busy = False
        if self._buffer:
            self._next()

    def _write(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def _answer_stats(self) -> None:
        body = (b'{"completions":%d,"streams":%d}') % (
            self._stats["completions"],
            self._stats["streams"],
        )
        self._write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
            % (len(body), body)
        )
        self._finished()

    def _complete(self) -> None:
        body = _COMPLETION % int(time.time())
        self._write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
            % (len(body), body)
        )
        self._finished()

    def _start_stream(self, *, with_usage: bool) -> Callable[[], None]:
        def start() -> None:
            head = _CHUNK_HEAD % int(time.time())
            self._write(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                b"transfer-encoding: chunked\r\n\r\n" + _event(head, _FIRST)
            )
            self._send_tokens(head, CHUNKS - 1, with_usage)

        return start

    def _send_tokens(self, head: bytes, left: int, with_usage: bool) -> None:
        def step() -> None:
            if left > 1:
                self._write(_event(head, _TOKEN))
                self._send_tokens(head, left - 1, with_usage)
                return
            tail = _event(head, _LAST)
            if with_usage:
                tail += _event(head, _USAGE_CHUNK)
            self._write(tail + _chunked(b"data: [DONE]\n\n") + b"0\r\n\r\n")
            self._finished()

        asyncio.get_running_loop().call_later(CHUNK_GAP_S, step)


async def serve(port_file: str) -> None:
    stats = {"completions": 0, "streams": 0}
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: UpstreamProtocol(stats), "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    with open(f"{port_file}.tmp", "w", encoding="ascii") as handle:
        handle.write(str(port))
    os.replace(f"{port_file}.tmp", port_file)
    async with server:
        await server.serve_forever()


def _run(port_file: str) -> None:
    try:
        import uvloop  # noqa: PLC0415 (optional: a faster loop keeps the upstream's core free)

        uvloop.run(serve(port_file))
    except ImportError:
        asyncio.run(serve(port_file))


if __name__ == "__main__":
    _run(sys.argv[1])
