"""Follow a server stream in the background and wait for a snapshot that satisfies a
condition (generous timeout; no timed assertions)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
TIMEOUT = 30.0


class Follower(Generic[T]):
    def __init__(self, call: AsyncIterable[T]) -> None:
        self.latest: T | None = None
        self.seen: list[T] = []
        self._call = call
        self._changed = asyncio.Condition()
        self._task = asyncio.create_task(self._follow())

    async def _follow(self) -> None:
        async for item in self._call:
            async with self._changed:
                self.latest = item
                self.seen.append(item)
                self._changed.notify_all()

    async def until(self, predicate: Callable[[T], bool]) -> T:
        async def wait() -> T:
            async with self._changed:
                await self._changed.wait_for(
                    lambda: self.latest is not None and predicate(self.latest)
                )
                assert self.latest is not None
                return self.latest

        return await asyncio.wait_for(wait(), TIMEOUT)

    async def close(self) -> None:
        cancel = getattr(self._call, "cancel", None)
        if cancel is not None:
            cancel()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
