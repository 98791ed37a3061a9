"""Upstream outcomes per provider key, sent to the key vault off the request path.

`add` is all a call pays: one small record appended to a bounded buffer (the oldest is
dropped, and counted, when the key vault has been away long enough to fill it). A
background task sends `ReportKeyOutcomes` batches every `interval_s`, at once after a
401/403/429, and retries a failed batch with capped exponential backoff (delivery is at
least once: a batch whose reply was lost is sent again). With nothing to send it sleeps
until something is added (an idle provider service never wakes for it). Rate-limit
headers are turned into headroom here, in the background, and handed to `on_headroom`
as well.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import NamedTuple

from agentopia.v1 import provider_key_service_pb2 as kv_pb2

from keyvault.client.provider_keys.headroom import headroom_from_headers

__all__ = ["Outcome", "OutcomeReporter"]

_log = logging.getLogger(__name__)
_NO_HEADERS: Mapping[str, str] = MappingProxyType({})
_MAX_BATCH = 1000  # the key vault accepts up to 10 000 per call
_MAX_BACKOFF_S = 10.0

Send = Callable[[kv_pb2.ReportKeyOutcomesRequest], Awaitable[object]]


class Outcome(NamedTuple):
    """One upstream call (a tuple: cheap to make on the request path)."""

    key_id: str
    status: int  # upstream HTTP status; 0 = transport failure
    time: float  # epoch seconds, when the call ended
    retry_after_s: float | None = None
    rate_limits: Mapping[str, str] = _NO_HEADERS
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def to_proto(
        self, *, headroom: bool = True
    ) -> tuple[kv_pb2.KeyOutcome, kv_pb2.RateLimitHeadroom | None]:
        """The proto, with the headroom its rate-limit headers describe (`headroom`)."""
        outcome = kv_pb2.KeyOutcome(
            key_id=self.key_id,
            status=self.status,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
        )
        outcome.time.FromNanoseconds(int(self.time * 1e9))
        if self.retry_after_s is not None:
            outcome.retry_after.FromNanoseconds(int(self.retry_after_s * 1e9))
        found = None
        if headroom and self.rate_limits:
            when = dt.datetime.fromtimestamp(self.time, dt.UTC)
            found = headroom_from_headers(self.rate_limits, when)
            if found is not None:
                outcome.headroom.CopyFrom(found)
        return outcome, found


class OutcomeReporter:
    def __init__(
        self,
        send: Send,
        *,
        on_headroom: Callable[[str, kv_pb2.RateLimitHeadroom], None] | None = None,
        capacity: int = 10_000,
        interval_s: float = 0.5,
    ) -> None:
        self._send = send
        self._on_headroom = on_headroom
        self._queue: collections.deque[Outcome] = collections.deque(maxlen=capacity)
        self._unsent: list[kv_pb2.KeyOutcome] = []  # the batch that failed, sent first
        self._wake = asyncio.Event()
        self._queued = asyncio.Event()
        self._interval = interval_s
        self.dropped = 0
        self.sent = 0

    @property
    def pending(self) -> int:
        return len(self._queue) + len(self._unsent)

    def add(self, outcome: Outcome, *, urgent: bool = False) -> None:
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1
        self._queue.append(outcome)
        self._queued.set()
        if urgent:
            self._wake.set()

    async def run(self) -> None:
        """Send forever (cancel to stop); never raises for a key vault failure."""
        delay = self._interval
        while True:
            if not self.pending:
                await self._queued.wait()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            self._wake.clear()
            self._queued.clear()
            if await self.flush():
                delay = self._interval
            else:
                delay = min(max(delay, self._interval) * 2, _MAX_BACKOFF_S)

    async def flush(self) -> bool:
        """Send everything buffered; False (the rest kept for later) on a failure."""
        while self._unsent or self._queue:
            if not self._unsent:
                self._unsent = self._take()
            batch = self._unsent
            try:
                await self._send(kv_pb2.ReportKeyOutcomesRequest(outcomes=batch))
            except Exception as error:  # any failure: keep the batch, retry later
                _log.warning(
                    "could not report %d provider-key outcomes (%s); will retry",
                    self.pending,
                    _describe(error),
                )
                return False
            self.sent += len(batch)
            self._unsent = []
        if self.dropped:
            _log.warning("dropped %d provider-key outcomes (buffer full)", self.dropped)
            self.dropped = 0
        return True

    def _take(self) -> list[kv_pb2.KeyOutcome]:
        """The next batch; only each key's latest headers are parsed (only the latest
        headroom counts, here and in the key vault)."""
        queue = self._queue
        items = [queue.popleft() for _ in range(min(len(queue), _MAX_BATCH))]
        latest = {item.key_id: i for i, item in enumerate(items) if item.rate_limits}
        batch: list[kv_pb2.KeyOutcome] = []
        for i, item in enumerate(items):
            outcome, headroom = item.to_proto(headroom=latest.get(item.key_id) == i)
            batch.append(outcome)
            if headroom is not None and self._on_headroom is not None:
                self._on_headroom(item.key_id, headroom)
        return batch


def _describe(error: Exception) -> str:
    code = getattr(error, "code", None)
    if callable(code):
        with contextlib.suppress(Exception):
            return str(code().name)
    return type(error).__name__
