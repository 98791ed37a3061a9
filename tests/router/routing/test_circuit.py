from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.router.routing.circuit import BreakerConfig, CircuitBreaker, CircuitState
from tests.router.routing.helpers import FakeClock

CLOSED, OPEN, HALF = CircuitState.CLOSED, CircuitState.OPEN, CircuitState.HALF_OPEN


def breaker(**config):
    clock = FakeClock(0.0)
    changes: list[tuple[CircuitState, CircuitState]] = []
    cb = CircuitBreaker(
        "dep",
        BreakerConfig(**config),
        clock=clock,
        on_change=lambda k, o, n: changes.append((o, n)),
    )
    return cb, clock, changes


def test_opens_on_consecutive_failures():
    cb, _, changes = breaker(failure_threshold=3)
    cb.record_failure()
    cb.record_failure()
    assert cb.state is CLOSED and cb.try_acquire()
    cb.record_failure()
    assert cb.state is OPEN and not cb.available() and not cb.try_acquire()
    assert changes == [(CLOSED, OPEN)]


def test_a_success_resets_the_consecutive_count():
    cb, _, _ = breaker(failure_threshold=3, min_volume=1000)
    for _ in range(10):
        cb.record_failure()
        cb.record_failure()
        cb.record_success()
    assert cb.state is CLOSED


def test_opens_on_error_rate_with_minimum_volume():
    cb, clock, _ = breaker(failure_threshold=100, error_rate=0.3, min_volume=20, window_s=10)
    for i in range(19):
        (cb.record_failure if i % 2 else cb.record_success)()
        clock.advance(0.1)
    assert cb.state is CLOSED  # 19 outcomes < min volume
    cb.record_failure()
    assert cb.state is OPEN  # 10 of 20 failed >= 30%


def test_old_outcomes_leave_the_window():
    cb, clock, _ = breaker(failure_threshold=100, error_rate=0.5, min_volume=10, window_s=10)
    for _ in range(9):
        cb.record_failure()
    clock.advance(11)
    for _ in range(9):
        cb.record_success()
    cb.record_failure()
    assert cb.counts() == (9, 1)
    assert cb.state is CLOSED


def test_cool_down_then_half_open_probes_then_close():
    cb, clock, changes = breaker(failure_threshold=1, open_s=5, half_open_probes=2)
    cb.record_failure()
    assert cb.retry_after_s() == pytest.approx(5)
    clock.advance(4.9)
    assert cb.state is OPEN
    clock.advance(0.1)
    assert cb.state is HALF and cb.retry_after_s() == 0
    assert cb.try_acquire() and cb.try_acquire()
    assert not cb.try_acquire()  # only two probes at a time
    cb.record_success()
    assert cb.state is CLOSED
    assert changes == [(CLOSED, OPEN), (OPEN, HALF), (HALF, CLOSED)]


def test_close_after_several_probe_successes():
    cb, clock, _ = breaker(failure_threshold=1, open_s=1, close_after=3)
    cb.record_failure()
    clock.advance(1)
    for _ in range(2):
        assert cb.try_acquire()
        cb.record_success()
        assert cb.state is HALF
    assert cb.try_acquire()
    cb.record_success()
    assert cb.state is CLOSED


def test_probe_failure_reopens_with_a_doubled_cool_down_up_to_the_cap():
    cb, clock, _ = breaker(failure_threshold=1, open_s=2, max_open_s=5)
    cb.record_failure()
    waits = []
    for _ in range(4):
        waits.append(cb.retry_after_s())
        clock.advance(cb.retry_after_s())
        assert cb.try_acquire()
        cb.record_failure()
    assert waits == [2, 4, 5, 5]
    clock.advance(5)
    assert cb.try_acquire()
    cb.record_success()
    cb.record_failure()  # a fresh open starts from open_s again
    assert cb.retry_after_s() == 2


def test_retry_after_extends_the_cool_down():
    cb, _, _ = breaker(failure_threshold=1, open_s=2)
    cb.record_failure(retry_after_s=30)
    assert cb.retry_after_s() == 30


def test_abandoned_probe_frees_its_slot():
    cb, clock, _ = breaker(failure_threshold=1, open_s=1)
    cb.record_failure()
    clock.advance(1)
    assert cb.try_acquire() and not cb.available()
    cb.record_abandoned()
    assert cb.available()


def test_late_failures_while_open_change_nothing():
    cb, _, changes = breaker(failure_threshold=1, open_s=10)
    cb.record_failure()
    cb.record_failure()
    cb.record_success()
    assert cb.state is OPEN and changes == [(CLOSED, OPEN)]


def test_force_half_open():
    cb, _, _ = breaker(failure_threshold=1, open_s=100)
    cb.record_failure()
    cb.force_half_open()
    assert cb.state is HALF and cb.available()
    cb.force_half_open()
    assert cb.state is HALF


@given(st.lists(st.tuples(st.sampled_from(["ok", "fail", "acquire", "abandon"]),
                          st.floats(min_value=0, max_value=3)), max_size=200))  # fmt: skip
def test_invariants_under_any_sequence(events):
    cb, clock, changes = breaker(failure_threshold=3, open_s=1, max_open_s=8, half_open_probes=2)
    for event, dt in events:
        clock.advance(dt)
        if event == "ok":
            cb.record_success()
        elif event == "fail":
            cb.record_failure()
        elif event == "acquire":
            if cb.try_acquire():
                assert cb.state is not OPEN
        else:
            cb.record_abandoned()
        assert 0 <= cb.retry_after_s() <= 8 + 1e-9
        assert cb._probes <= 2
    for old, new in changes:
        assert old is not new
        assert (old, new) in {(CLOSED, OPEN), (OPEN, HALF), (HALF, CLOSED), (HALF, OPEN)}


def test_trip_opens_for_the_given_time_capped():
    cb, clock, _ = breaker(max_open_s=30)
    cb.trip(12)
    assert cb.state is OPEN and cb.retry_after_s() == 12
    clock.advance(12)
    assert cb.state is HALF
    cb.trip(500)
    assert cb.retry_after_s() == 30
