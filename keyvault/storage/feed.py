"""A snapshot feed: the latest snapshot of a table plus a wake-up for every watcher when
it changes. Local changes publish at once (`changed`); changes made by other key-vault
replicas are found by polling the table's version counter (one tiny read per
interval, in `follow`), so a change reaches every watcher of every replica within
the poll interval plus the rebuild time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Generic, TypeVar

from keyvault.storage import versions
from keyvault.storage.database import Database

__all__ = ["SnapshotFeed"]

_log = logging.getLogger(__name__)

T = TypeVar("T")


class SnapshotFeed(Generic[T]):
    def __init__(
        self,
        name: str,
        *,
        version: Callable[[], Awaitable[int]],
        build: Callable[[], Awaitable[tuple[int, T]]],
        poll_interval_s: float,
    ) -> None:
        self.name = name
        self._version = version
        self._build = build
        self._interval = poll_interval_s
        self._current: tuple[int, T] | None = None
        self._changed = asyncio.Event()
        self._poke = asyncio.Event()
        self._closed = False

    @classmethod
    def of_counter(
        cls,
        db: Database,
        counter: str,
        *,
        build: Callable[[], Awaitable[tuple[int, T]]],
        poll_interval_s: float,
    ) -> SnapshotFeed[T]:
        """A feed that follows one of the `kv_versions` counters (named like the counter).
        `build` must read the counter in the same transaction as the snapshot."""
        return cls(
            counter,
            version=lambda: versions.read(db, counter),
            build=build,
            poll_interval_s=poll_interval_s,
        )

    @property
    def current(self) -> T | None:
        return None if self._current is None else self._current[1]

    @property
    def version(self) -> int:
        return -1 if self._current is None else self._current[0]

    def poke(self) -> None:
        """Rebuild soon (at the follower's next turn) instead of at the next poll."""
        self._poke.set()

    async def changed(self) -> None:
        """A change was committed here: publish it before the caller answers, so this
        replica's watchers and its own admin checks see it at once."""
        try:
            await self.refresh()
        except Exception:
            _log.exception("%s feed refresh failed; retrying from the follower", self.name)
            self.poke()

    async def refresh(self) -> None:
        version, snapshot = await self._build()
        if self._current is None or version > self._current[0]:
            self._current = (version, snapshot)
            self._publish_wakeup()

    def _publish_wakeup(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def follow(self) -> None:
        """Poll the counter until cancelled (the service's lifecycle runs this); then
        end every subscription."""
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._poke.wait(), self._interval)
                self._poke.clear()
                try:
                    if await self._version() != self.version:
                        await self.refresh()
                except Exception:  # a database blip must not end the feed; retry next tick
                    _log.exception("%s feed refresh failed", self.name)
        finally:
            self._closed = True
            self._publish_wakeup()

    async def subscribe(self) -> AsyncIterator[T]:
        """The current snapshot, then each newer one (a slow watcher skips to the latest)."""
        seen = -2
        while not self._closed:
            changed = self._changed
            if self._current is not None and self._current[0] != seen:
                seen, snapshot = self._current
                yield snapshot
                continue
            await changed.wait()
