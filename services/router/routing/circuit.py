"""A circuit breaker per deployment.

CLOSED: traffic flows; the breaker opens on `failure_threshold` consecutive
failures, or when the error rate over the sliding window reaches `error_rate`
with at least `min_volume` outcomes in it.
OPEN: nothing is admitted for the cool-down (doubled on each reopen up to
`max_open_s`, and never shorter than a Retry-After the upstream asked for).
HALF_OPEN: after the cool-down up to `half_open_probes` requests at a time are
admitted as probes; `close_after` successes close the circuit, one failure
reopens it.

Only health failures are recorded here (see retry.counts_against_health): a
client's 400 says nothing about the deployment. The clock is injected
(monotonic seconds); nothing blocks and nothing is allocated per request.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["BreakerConfig", "CircuitBreaker", "CircuitState", "StateListener"]


class CircuitState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


StateListener = Callable[[str, CircuitState, CircuitState], None]  # (key, old, new)


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    failure_threshold: int = 5
    error_rate: float = 0.5
    min_volume: int = 20
    window_s: float = 30.0
    buckets: int = 10
    open_s: float = 5.0
    max_open_s: float = 60.0
    half_open_probes: int = 1
    close_after: int = 1


class _Window:
    """Success/failure counts over the last `window_s`, in a fixed ring of buckets."""

    __slots__ = ("_epochs", "_fail", "_ok", "_width")

    def __init__(self, window_s: float, buckets: int) -> None:
        self._width = window_s / buckets
        self._epochs = [-1] * buckets
        self._ok = [0] * buckets
        self._fail = [0] * buckets

    def _slot(self, now: float) -> int:
        epoch = int(now / self._width)
        slot = epoch % len(self._epochs)
        if self._epochs[slot] != epoch:
            self._epochs[slot] = epoch
            self._ok[slot] = self._fail[slot] = 0
        return slot

    def add(self, now: float, *, ok: bool) -> None:
        slot = self._slot(now)
        if ok:
            self._ok[slot] += 1
        else:
            self._fail[slot] += 1

    def counts(self, now: float) -> tuple[int, int]:
        oldest = int(now / self._width) - len(self._epochs) + 1
        ok = fail = 0
        for slot, epoch in enumerate(self._epochs):
            if epoch >= oldest:
                ok += self._ok[slot]
                fail += self._fail[slot]
        return ok, fail

    def clear(self) -> None:
        self._epochs = [-1] * len(self._epochs)


class CircuitBreaker:
    def __init__(
        self,
        key: str,
        config: BreakerConfig | None = None,
        *,
        clock: Callable[[], float],
        on_change: StateListener | None = None,
    ) -> None:
        self.key = key
        self.config = config or BreakerConfig()
        self._clock = clock
        self._on_change = on_change
        self._state = CircuitState.CLOSED
        self._window = _Window(self.config.window_s, self.config.buckets)
        self._consecutive = 0
        self._opened_at = 0.0
        self._open_for = self.config.open_s
        self._reopens = 0
        self._probes = 0  # probes admitted and not yet resolved
        self._probe_ok = 0
        self._rate_limited = False  # opened by an upstream 429's Retry-After (trip)

    @property
    def state(self) -> CircuitState:
        """The current state; an expired cool-down turns OPEN into HALF_OPEN."""
        if self._state is CircuitState.OPEN and self._clock() >= self._opened_at + self._open_for:
            self._set(CircuitState.HALF_OPEN)
        return self._state

    def available(self) -> bool:
        """Would a request be admitted now? (No side effect beyond the cool-down.)"""
        state = self.state
        if state is CircuitState.CLOSED:
            return True
        return state is CircuitState.HALF_OPEN and self._probes < self.config.half_open_probes

    def try_acquire(self) -> bool:
        """Admit one request (reserving a probe slot when half-open)."""
        if not self.available():
            return False
        if self._state is CircuitState.HALF_OPEN:
            self._probes += 1
        return True

    def rate_limited(self) -> bool:
        """Open because the upstream rate-limited it with a Retry-After (`trip`), not
        because it failed: callers are owed a 429, not a 503."""
        return self._rate_limited and self.state is CircuitState.OPEN

    def retry_after_s(self) -> float:
        """Seconds until an open circuit admits probes (0 when not open)."""
        if self.state is not CircuitState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self._open_for - self._clock())

    def record_success(self) -> None:
        now = self._clock()
        self._consecutive = 0
        if self.state is CircuitState.HALF_OPEN:
            self._release_probe()
            self._probe_ok += 1
            if self._probe_ok >= self.config.close_after:
                self._close()
            return
        self._window.add(now, ok=True)

    def record_failure(self, *, retry_after_s: float | None = None) -> None:
        now = self._clock()
        state = self.state
        if state is CircuitState.HALF_OPEN:
            self._release_probe()
            self._open(now, retry_after_s, reopen=True)
            return
        if state is CircuitState.OPEN:
            return  # a late outcome of a request admitted before opening
        self._consecutive += 1
        self._window.add(now, ok=False)
        if self._should_open(now):
            self._open(now, retry_after_s, reopen=False)

    def record_abandoned(self) -> None:
        """An admitted request ended without an outcome (cancelled): free its probe."""
        if self._state is CircuitState.HALF_OPEN:
            self._release_probe()

    def trip(self, seconds: float) -> None:
        """Open now for `seconds` (an upstream rate limit with Retry-After: every
        request on this deployment's key would be refused until then)."""
        self._opened_at = self._clock()
        self._open_for = min(max(seconds, 0.0), self.config.max_open_s)
        self._rate_limited = True
        self._set(CircuitState.OPEN)

    def force_half_open(self) -> None:
        """An active health check passed: let probe traffic in now."""
        if self.state is CircuitState.OPEN:
            self._set(CircuitState.HALF_OPEN)

    def counts(self) -> tuple[int, int]:
        """(successes, failures) in the sliding window."""
        return self._window.counts(self._clock())

    def _should_open(self, now: float) -> bool:
        if self._consecutive >= self.config.failure_threshold:
            return True
        ok, fail = self._window.counts(now)
        total = ok + fail
        return total >= self.config.min_volume and fail >= self.config.error_rate * total

    def _open(self, now: float, retry_after_s: float | None, *, reopen: bool) -> None:
        self._reopens = self._reopens + 1 if reopen else 0
        base = min(self.config.open_s * (2**self._reopens), self.config.max_open_s)
        self._open_for = max(base, retry_after_s or 0.0)
        self._opened_at = now
        self._rate_limited = False
        self._set(CircuitState.OPEN)

    def _close(self) -> None:
        self._consecutive = 0
        self._reopens = 0
        self._window.clear()
        self._set(CircuitState.CLOSED)

    def _release_probe(self) -> None:
        self._probes = max(0, self._probes - 1)

    def _set(self, new: CircuitState) -> None:
        old = self._state
        if old is new:
            return
        self._state = new
        self._probes = 0
        self._probe_ok = 0
        if self._on_change is not None:
            self._on_change(self.key, old, new)
