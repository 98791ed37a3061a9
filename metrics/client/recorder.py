"""The router's usage sender: non-blocking, batching, retrying, bounded.

    recorder = UsageRecorder("127.0.0.1:50054", instruments=gateway.recorder)
    recorder.start()                      # inside the running event loop
    recorder.record(event)                # per request: O(1), never blocks, never raises
    ...
    await recorder.aclose(grace_s=10.0)   # on shutdown: flushes everything it can

Delivery: events wait in a bounded in-memory buffer; a background task sends
them in batches of up to `max_batch` every `flush_interval` seconds (sooner when
a batch is full) and retries a failed batch until it is acknowledged, with
exponential backoff and full jitter (`min(backoff_max, backoff_initial * 2**n)`
times a uniform random factor). The metrics service stores events idempotently
by `event_id`, so a batch retried after a lost acknowledgement is never double
counted: a metrics-service or database restart loses nothing.

Losing events is possible only in two declared, counted cases: the buffer is
full (`max_buffer` events waiting, e.g. a long metrics outage) - the *new* event
is dropped and counted as `agentopia_usage_events_dropped_total{reason="buffer_full"}`;
or `aclose` runs out of time - what is left is counted as `reason="shutdown"`.
A batch the service rejects as malformed (INVALID_ARGUMENT) is never retried:
`reason="rejected"`, as are events the service reports in `rejected_event_ids`.

Health (`health_source`: circuits, key health) rides along with the next batch when
it has changed, and is sent on its own only as a heartbeat every `health_refresh_s`
(10 s: a third of the metrics service's AGENTOPIA_METRICS_HEALTH_TTL_S default, after
which it forgets a reporter), so an idle gateway makes one small call per heartbeat
instead of one per flush interval.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from agentopia.v1 import metrics_service_pb2 as pb
from agentopia.v1 import metrics_service_pb2_grpc as pb_grpc

from metrics.client.instruments import RecorderInstruments
from services.kernel.channels import identified, raw_channel
from services.kernel.hosting import channel_options
from services.kernel.identity import IdentitySettings

__all__ = ["RecorderStats", "UsageRecorder", "new_event_id"]

_log = logging.getLogger(__name__)
# Reconnect quickly after the metrics service restarts (gRPC's default backoff
# grows to 120 s, which would hold events back long after it is up again).
_RECONNECT = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2000),
]


def new_event_id() -> str:
    return uuid.uuid4().hex


@dataclass
class RecorderStats:
    """Plain counters (also exported through `RecorderInstruments` when given)."""

    recorded: int = 0
    sent: int = 0
    duplicates: int = 0
    batches: int = 0
    send_failures: int = 0
    dropped_buffer_full: int = 0
    dropped_shutdown: int = 0
    rejected: int = 0


class UsageRecorder:
    def __init__(
        self,
        channel_or_target: grpc.aio.Channel | str,
        *,
        max_batch: int = 500,
        flush_interval: float = 1.0,
        max_buffer: int = 100_000,
        rpc_timeout: float = 10.0,
        backoff_initial: float = 0.1,
        backoff_max: float = 5.0,
        health_source: Callable[[], pb.HealthReport | None] | None = None,
        health_refresh_s: float = 10.0,
        instruments: RecorderInstruments | None = None,
        rng: Callable[[], float] = random.random,
        identity: IdentitySettings | None = None,
    ) -> None:
        if max_batch < 1 or max_buffer < max_batch or flush_interval <= 0:
            raise ValueError("need max_batch >= 1, max_buffer >= max_batch, flush_interval > 0")
        if isinstance(channel_or_target, str):
            options = [*channel_options(16 * 1024 * 1024), *_RECONNECT]
            # This workload's identity (its certificate or token) on every batch.
            self._channel = identified(
                raw_channel(channel_or_target, options=options, identity=identity), identity
            )
            self._owns_channel = True
        else:
            self._channel = channel_or_target
            self._owns_channel = False
        self._stub = pb_grpc.MetricsServiceStub(self._channel)
        self._max_batch = max_batch
        self._interval = flush_interval
        self._max_buffer = max_buffer
        self._rpc_timeout = rpc_timeout
        self._backoff = (backoff_initial, backoff_max)
        self._health_source = health_source
        self._health = _HealthHeartbeat(health_refresh_s)
        self._instruments = instruments
        self._rng = rng
        self._buffer: collections.deque[pb.UsageEvent] = collections.deque()
        self._in_flight = 0
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self.stats = RecorderStats()

    @property
    def pending(self) -> int:
        """Events not yet acknowledged (buffered plus in flight)."""
        return len(self._buffer) + self._in_flight

    def start(self) -> None:
        """Start the background sender (idempotent; needs a running event loop)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    def record(self, event: pb.UsageEvent) -> None:
        """Queue one event. O(1); never blocks or raises. Do not mutate `event` afterwards."""
        try:
            if self.pending >= self._max_buffer or self._closing:
                self._drop("shutdown" if self._closing else "buffer_full", 1)
                return
            if not event.event_id:
                event.event_id = new_event_id()
            if not event.HasField("time"):
                event.time.FromDatetime(dt.datetime.now(dt.UTC))
            self._buffer.append(event)
            self.stats.recorded += 1
            self._depth()
            if len(self._buffer) >= self._max_batch:
                self._wake.set()
            if self._task is None:
                self.start()
        except Exception:  # never let accounting break a request
            _log.exception("usage event could not be queued")

    async def flush(self) -> None:
        """Wait until every event recorded so far is acknowledged (no deadline: bound it)."""
        self.start()
        while self.pending:
            self._wake.set()
            await asyncio.sleep(0.01)

    async def aclose(self, grace_s: float = 10.0) -> int:
        """Send what is buffered within `grace_s` seconds, then stop. Returns the
        number of events given up on (counted as dropped, reason `shutdown`)."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), grace_s)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        lost = self.pending
        if lost:
            _log.warning("usage recorder closed with %d events unsent", lost)
            self._drop("shutdown", lost)
        self._buffer.clear()
        self._in_flight = 0
        self._depth()
        if self._owns_channel:
            await self._channel.close(None)
        return lost

    async def _run(self) -> None:
        while True:
            await self._wait_for_work()
            if not self._buffer and self._closing:
                return
            size = min(self._max_batch, len(self._buffer))
            batch = [self._buffer.popleft() for _ in range(size)]
            self._in_flight = len(batch)
            health = self._health.due(self._health_source()) if self._health_source else None
            if batch or health is not None:
                await self._send(pb.RecordUsageRequest(events=batch, health=health))
            self._in_flight = 0
            self._depth()

    async def _wait_for_work(self) -> None:
        if len(self._buffer) >= self._max_batch or self._closing:
            return
        # asyncio.timeout, not wait_for: no task is created per turn.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._interval):
                await self._wake.wait()
        self._wake.clear()

    async def _send(self, request: pb.RecordUsageRequest) -> None:
        """Send until acknowledged; only a malformed batch is given up on."""
        attempt = 0
        while True:
            try:
                reply = await self._stub.RecordUsage(request, timeout=self._rpc_timeout)
            except grpc.aio.AioRpcError as error:
                if error.code() == grpc.StatusCode.INVALID_ARGUMENT:
                    self._count_rejected(len(request.events), error)
                    return
                self._count_failure(error.code().name)
            except Exception:  # e.g. a channel closed under us: keep the batch, retry
                _log.exception("RecordUsage failed unexpectedly; retrying")
                self._count_failure("UNKNOWN")
            else:
                self._count_sent(request, reply)
                return
            await asyncio.sleep(self._delay(attempt))
            attempt += 1

    def _delay(self, attempt: int) -> float:
        initial, cap = self._backoff
        return min(cap, initial * float(2 ** min(attempt, 30))) * self._rng()

    def _count_sent(self, request: pb.RecordUsageRequest, reply: pb.RecordUsageResponse) -> None:
        rejected = len(reply.rejected_event_ids)
        accepted = len(request.events) - rejected
        self.stats.batches += 1
        self.stats.sent += accepted
        self.stats.duplicates += reply.duplicates
        self.stats.rejected += rejected
        if self._instruments:
            self._instruments.sent.inc(accepted)
            if rejected:
                self._instruments.dropped.labels("rejected").inc(rejected)
        if rejected:
            _log.warning("metrics service rejected %d malformed usage events", rejected)

    def _count_failure(self, code: str) -> None:
        self.stats.send_failures += 1
        if self._instruments:
            self._instruments.send_failures.labels(code).inc()
        _log.debug("RecordUsage failed (%s); retrying", code)

    def _count_rejected(self, count: int, error: grpc.aio.AioRpcError) -> None:
        self.stats.rejected += count
        if self._instruments:
            self._instruments.dropped.labels("rejected").inc(count)
        _log.error("metrics service rejected a batch of %d events: %s", count, error.details())

    def _drop(self, reason: str, count: int) -> None:
        if reason == "shutdown":
            self.stats.dropped_shutdown += count
        else:
            self.stats.dropped_buffer_full += count
        if self._instruments:
            self._instruments.dropped.labels(reason).inc(count)

    def _depth(self) -> None:
        if self._instruments:
            self._instruments.buffer_depth.set(self.pending)


class _HealthHeartbeat:
    """Which health reports to send: a changed one at once, an unchanged one (its
    `time` aside) once every `refresh_s`."""

    def __init__(self, refresh_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._refresh_s = refresh_s
        self._clock = clock
        self._last: bytes | None = None
        self._sent_at = 0.0

    def due(self, report: pb.HealthReport | None) -> pb.HealthReport | None:
        if report is None:
            return None
        state = pb.HealthReport()
        state.CopyFrom(report)
        state.ClearField("time")
        key = state.SerializeToString(deterministic=True)
        now = self._clock()
        if key == self._last and now - self._sent_at < self._refresh_s:
            return None
        self._last, self._sent_at = key, now
        return report
