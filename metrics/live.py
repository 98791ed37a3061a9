"""Per-second live aggregates for dashboards, in memory.

Events are counted in the second this replica *received* them (every stored
event appears in exactly one frame; the router's flush interval, 1 s by
default, bounds the skew from the request's own time). Duplicates of events
already stored are not counted. With several metrics replicas each stream shows
its replica's share; Prometheus is the fleet-wide view.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from agentopia.v1 import metrics_service_pb2 as pb

from metrics.client.pricing import format_usd
from metrics.storage.ingest import Row, pusd_to_usd

__all__ = ["LiveHub", "percentile_cont"]

_MAX_SAMPLES = 10_000


def percentile_cont(sorted_values: Sequence[float], fraction: float) -> float:
    """The same interpolation as PostgreSQL's percentile_cont (0.0 for no values)."""
    if not sorted_values:
        return 0.0
    position = fraction * (len(sorted_values) - 1)
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (position - low) * (sorted_values[high] - sorted_values[low])


@dataclass
class _Reservoir:
    """At most _MAX_SAMPLES values, uniformly sampled (Algorithm R)."""

    seen: int = 0
    values: list[float] = field(default_factory=list)

    def add(self, value: float, rng: Callable[[], float]) -> None:
        self.seen += 1
        if len(self.values) < _MAX_SAMPLES:
            self.values.append(value)
            return
        slot = int(rng() * self.seen)
        if slot < _MAX_SAMPLES:
            self.values[slot] = value

    def triple(self) -> tuple[float, float, float]:
        ordered = sorted(self.values)
        return tuple(percentile_cont(ordered, f) for f in (0.5, 0.95, 0.99))  # type: ignore[return-value]


@dataclass
class _Second:
    start: int
    counts: dict[str, int] = field(default_factory=dict)
    cost_pusd: int = 0
    latency: _Reservoir = field(default_factory=_Reservoir)
    ttft: _Reservoir = field(default_factory=_Reservoir)
    overhead: _Reservoir = field(default_factory=_Reservoir)

    def bump(self, name: str, amount: int) -> None:
        self.counts[name] = self.counts.get(name, 0) + amount


_COUNTED = (
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "retries",
    "failovers",
)


class LiveHub:
    """Collects stored events into the current second; `run()` publishes each
    finished second to every subscriber (bounded queues; a slow subscriber
    loses its oldest frames, never blocks ingest)."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        health_ttl_s: float = 30.0,
        queue_size: int = 120,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._clock = clock
        self._health_ttl = health_ttl_s
        self._queue_size = queue_size
        self._rng = rng
        self._current = _Second(int(clock()))
        self._health: dict[str, tuple[float, pb.HealthReport]] = {}
        self._subscribers: set[asyncio.Queue[pb.LiveStats | None]] = set()
        self._closed = False

    def add(self, rows: Iterable[Row]) -> None:
        second = self._roll()
        for row in rows:
            second.bump("requests", 1)
            second.bump("errors", int(row["is_error"]))
            if row["cost_pusd"] is None:
                second.bump("unpriced_requests", 1)
            else:
                second.cost_pusd += row["cost_pusd"]
            for name in _COUNTED:
                second.bump(name, int(row[name]))
            second.latency.add(row["latency_ms"], self._rng)
            second.overhead.add(row["overhead_ms"], self._rng)
            if row["stream"] and row["ttft_ms"] > 0:
                second.ttft.add(row["ttft_ms"], self._rng)

    def update_health(self, report: pb.HealthReport) -> None:
        self._health[report.reporter] = (self._clock(), report)

    def _roll(self) -> _Second:
        now = int(self._clock())
        if now != self._current.start:
            self._publish(self._current)
            self._current = _Second(now)
        return self._current

    def _publish(self, second: _Second) -> None:
        if not self._subscribers:
            return  # nobody watches: an idle service builds no frames
        frame = self.frame(second)
        for queue in self._subscribers:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(frame)

    def frame(self, second: _Second) -> pb.LiveStats:
        p50, p95, p99 = second.latency.triple()
        stats = pb.LiveStats(
            latency_p50_ms=p50,
            latency_p95_ms=p95,
            latency_p99_ms=p99,
            time_to_first_token_p50_ms=second.ttft.triple()[0],
            overhead_p50_ms=second.overhead.triple()[0],
            cost_usd=format_usd(pusd_to_usd(second.cost_pusd)),
        )
        for name, count in second.counts.items():
            setattr(stats, name, min(count, 2**31 - 1))
        stats.time.FromSeconds(second.start)
        horizon = self._clock() - self._health_ttl
        for reporter in sorted(self._health):
            seen, report = self._health[reporter]
            if seen >= horizon:
                stats.circuits.extend(report.circuits)
                stats.keys.extend(report.keys)
        return stats

    async def run(self) -> None:
        """Publish each finished second until closed (an idle second is a zero frame)."""
        while not self._closed:
            now = self._clock()
            await asyncio.sleep(max(0.001, int(now) + 1 - now))
            self._roll()

    def close(self) -> None:
        """End every subscription (used when the service stops)."""
        self._closed = True
        for queue in self._subscribers:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(None)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[AsyncIterator[pb.LiveStats]]:
        queue: asyncio.Queue[pb.LiveStats | None] = asyncio.Queue(self._queue_size)
        self._subscribers.add(queue)
        try:
            yield self._frames(queue)
        finally:
            self._subscribers.discard(queue)

    async def _frames(self, queue: asyncio.Queue[pb.LiveStats | None]) -> AsyncIterator[Any]:
        while not self._closed or not queue.empty():
            frame = await queue.get()
            if frame is None:
                return
            yield frame
