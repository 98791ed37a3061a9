"""What every provider emulator shares: an aiohttp server on 127.0.0.1 (port 0)
used as an async context manager, a script of responses to play in order, the
requests it received, and a count of handlers cut short by a client leaving."""

from __future__ import annotations

import abc
import asyncio
import collections
import contextlib
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

import orjson
from aiohttp import web

__all__ = ["EmulatorServer", "RecordedRequest"]

ItemT = TypeVar("ItemT")


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: Any  # the parsed JSON (None when it was not JSON)
    raw: bytes


class EmulatorServer(abc.ABC, Generic[ItemT]):
    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.cancelled = 0  # handlers cut short because the client went away
        self._script: collections.deque[ItemT] = collections.deque()
        self._release = asyncio.Event()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port = 0

    async def __aenter__(self) -> Self:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closing.set()
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def last(self) -> RecordedRequest:
        return self.requests[-1]

    def enqueue(self, *items: ItemT) -> None:
        """Script the next responses, in order; then the emulator's default answers."""
        self._script.extend(items)

    def release(self) -> None:
        """Let every `hold` response proceed."""
        self._release.set()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        try:
            raw = await request.read()
            body: Any = None
            with contextlib.suppress(orjson.JSONDecodeError):
                body = orjson.loads(raw) if raw else None
            headers = {k.lower(): v for k, v in request.headers.items()}
            recorded = RecordedRequest(request.method, request.path, headers, body, raw)
            self.requests.append(recorded)
            return await self._answer(request, recorded)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise

    @abc.abstractmethod
    async def _answer(self, request: web.Request, recorded: RecordedRequest) -> web.StreamResponse:
        """Answer one (already recorded) request in the provider's wire format."""
