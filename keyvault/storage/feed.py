"""Snapshot feeds: the latest snapshot of a table plus a wake-up for every watcher when
it changes. Local changes publish at once (`changed`); changes made by other key-vault
replicas are found by polling the version counters (`CounterFeeds.follow`: one small
read of every counter per interval, whatever the number of feeds), so a change reaches
every watcher of every replica within the poll interval plus the rebuild time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Generic, TypeVar

from keyvault.storage import versions
from keyvault.storage.database import Database

__all__ = ["CounterFeeds", "SnapshotFeed"]

_log = logging.getLogger(__name__)

T = TypeVar("T")


def _no_follower() -> None:
    """The poke of a feed nobody follows (a test's stand-in)."""


class SnapshotFeed(Generic[T]):
    def __init__(
        self,
        name: str,
        *,
        build: Callable[[], Awaitable[tuple[int, T]]],
        poke: Callable[[], None] = _no_follower,
    ) -> None:
        self.name = name
        self._build = build
        self._poke = poke
        self._current: tuple[int, T] | None = None
        self._changed = asyncio.Event()
        self._closed = False

    @property
    def current(self) -> T | None:
        return None if self._current is None else self._current[1]

    @property
    def version(self) -> int:
        return -1 if self._current is None else self._current[0]

    def poke(self) -> None:
        """Rebuild soon (at the follower's next turn) instead of at the next poll."""
        self._poke()

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

    async def next_change(self) -> None:
        """Return once a newer snapshot is published here (or the feed closes)."""
        if not self._closed:
            await self._changed.wait()

    def close(self) -> None:
        """End every subscription (the follower does this when it stops)."""
        self._closed = True
        self._publish_wakeup()

    def _publish_wakeup(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

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


class CounterFeeds:
    """The feeds that follow the `kv_versions` change counters, each named like its
    counter. One task polls them all: every interval (or at once when a feed is poked)
    it reads every counter in one query and rebuilds the feeds whose counter moved."""

    def __init__(self, db: Database, *, poll_interval_s: float) -> None:
        self._db = db
        self._interval = poll_interval_s
        self._feeds: dict[str, SnapshotFeed[Any]] = {}
        self._poke = asyncio.Event()

    def add(self, counter: str, build: Callable[[], Awaitable[tuple[int, T]]]) -> SnapshotFeed[T]:
        """A feed of counter `counter`; `build` must read the counter in the same
        transaction as the snapshot."""
        feed: SnapshotFeed[T] = SnapshotFeed(counter, build=build, poke=self._poke.set)
        self._feeds[counter] = feed
        return feed

    async def refresh(self) -> None:
        """Load every snapshot now (at start, so SERVING means ready)."""
        for feed in self._feeds.values():
            await feed.refresh()

    async def follow(self) -> None:
        """Poll the counters until cancelled (the service's lifecycle runs this); then
        end every subscription."""
        try:
            while True:
                try:
                    async with asyncio.timeout(self._interval):
                        await self._poke.wait()
                except TimeoutError:
                    pass
                self._poke.clear()
                await self._catch_up()
        finally:
            for feed in self._feeds.values():
                feed.close()

    async def _catch_up(self) -> None:
        # A database blip must not end the feeds: each is retried at the next turn.
        try:
            counters = await versions.read_all(self._db)
        except Exception:
            _log.exception("reading the change counters failed")
            return
        for name, feed in self._feeds.items():
            if counters.get(name, 0) == feed.version:
                continue
            try:
                await feed.refresh()
            except Exception:
                _log.exception("%s feed refresh failed", name)
