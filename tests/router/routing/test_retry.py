from __future__ import annotations

import itertools
import random

import grpc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.kernel.errors import GatewayError
from services.router.routing.retry import (
    Disposition,
    RetryBudget,
    RetryPolicy,
    classify,
    counts_against_health,
    may_retry,
)
from tests.router.routing.helpers import FakeClock

S = grpc.StatusCode


def err(status, code, *, http=0, retryable=False, message="x", **meta):
    return GatewayError(status, code, message, http_status=http, retryable=retryable, metadata=meta)


CASES = [
    (err(S.UNAVAILABLE, "upstream_unavailable", http=503, retryable=True), Disposition.RETRY),
    (err(S.UNAVAILABLE, "upstream_overloaded", http=503, retryable=True), Disposition.RETRY),
    (err(S.RESOURCE_EXHAUSTED, "upstream_rate_limited", retryable=True), Disposition.RETRY),
    (err(S.DEADLINE_EXCEEDED, "upstream_timeout", http=504, retryable=True), Disposition.RETRY),
    (err(S.DEADLINE_EXCEEDED, "timeout"), Disposition.RETRY),
    (err(S.UNAVAILABLE, "service_unavailable"), Disposition.RETRY),
    (err(S.FAILED_PRECONDITION, "provider_auth_failed", http=502), Disposition.RETRY),
    (err(S.FAILED_PRECONDITION, "provider_quota_exhausted", http=502), Disposition.RETRY),
    (err(S.UNAVAILABLE, "no_healthy_deployment", http=503), Disposition.RETRY),
    (err(S.INVALID_ARGUMENT, "upstream_bad_request", http=400), Disposition.FINAL),
    (err(S.NOT_FOUND, "upstream_not_found", http=404), Disposition.FINAL),
    (err(S.INVALID_ARGUMENT, "upstream_payload_too_large", http=413), Disposition.FINAL),
    (err(S.INVALID_ARGUMENT, "invalid_json"), Disposition.FINAL),
    (err(S.INVALID_ARGUMENT, "context_length_exceeded"), Disposition.LARGER_CONTEXT),
    (
        err(S.INVALID_ARGUMENT, "upstream_bad_request", http=400,
            upstream_code="context_length_exceeded"),
        Disposition.LARGER_CONTEXT,
    ),
    (
        err(S.INVALID_ARGUMENT, "upstream_bad_request", http=400,
            message="anthropic rejected the request: prompt is too long: 210000 tokens > 200000"),
        Disposition.LARGER_CONTEXT,
    ),
    (
        err(S.INVALID_ARGUMENT, "upstream_bad_request", http=400,
            message="This model's maximum context length is 128000 tokens."),
        Disposition.LARGER_CONTEXT,
    ),
    (
        err(S.UNAVAILABLE, "upstream_unavailable", retryable=True, message="context window busy"),
        Disposition.RETRY,
    ),
]  # fmt: skip


@pytest.mark.parametrize(("error", "expected"), CASES, ids=lambda c: getattr(c, "code", str(c)))
def test_classify(error, expected):
    assert classify(error) is expected
    assert counts_against_health(error) is (expected is Disposition.RETRY)


def test_streams_retry_only_before_the_first_byte():
    assert may_retry(first_byte_sent=False)
    assert not may_retry(first_byte_sent=True)


@given(st.integers(min_value=1, max_value=30), st.integers(min_value=0, max_value=2**32))
def test_full_jitter_backoff_bounds(retry, seed):
    policy = RetryPolicy(base_delay_s=0.1, max_delay_s=2.0)
    delay = policy.backoff_s(retry, random.Random(seed))
    assert 0.0 <= delay <= min(2.0, 0.1 * 2 ** (retry - 1))


def test_backoff_grows_exponentially_on_average():
    policy = RetryPolicy(base_delay_s=0.1, max_delay_s=100.0)
    rng = random.Random(1)
    means = [sum(policy.backoff_s(r, rng) for _ in range(2000)) / 2000 for r in (1, 2, 3, 4)]
    for low, high in itertools.pairwise(means):
        assert high / low == pytest.approx(2.0, rel=0.15)


def test_retry_after_is_honoured_up_to_a_limit():
    policy = RetryPolicy(base_delay_s=0.01, max_delay_s=0.02, max_retry_after_s=5.0)
    rng = random.Random(0)
    limited = GatewayError(S.RESOURCE_EXHAUSTED, "upstream_rate_limited", "x", retry_after_s=1.5)
    assert policy.delay_s(1, limited, rng) == 1.5
    too_long = GatewayError(S.RESOURCE_EXHAUSTED, "upstream_rate_limited", "x", retry_after_s=60)
    assert policy.delay_s(1, too_long, rng) is None
    assert 0 <= policy.delay_s(1, None, rng) <= 0.01


def test_budget_starts_full_and_refills_with_requests_and_time():
    clock = FakeClock(0.0)
    budget = RetryBudget(ratio=0.2, min_per_s=1.0, max_balance=3.0, clock=clock)
    assert [budget.try_withdraw() for _ in range(4)] == [True, True, True, False]
    for _ in range(5):
        budget.deposit()
    assert budget.try_withdraw() and not budget.try_withdraw()
    clock.advance(2.0)
    assert budget.try_withdraw() and budget.try_withdraw() and not budget.try_withdraw()
    assert budget.withdrawn == 6 and budget.refused == 3
    clock.advance(100)
    assert budget.balance == 3.0


@given(
    st.lists(st.tuples(st.floats(min_value=0, max_value=0.5), st.integers(0, 3)), max_size=300),
)
def test_budget_bound_holds_for_any_traffic(events):
    """retries <= max_balance + ratio * requests + min_per_s * elapsed."""
    clock = FakeClock(0.0)
    budget = RetryBudget(ratio=0.2, min_per_s=1.0, max_balance=10.0, clock=clock)
    requests = retries = 0
    for gap, wanted in events:
        clock.advance(gap)
        budget.deposit()
        requests += 1
        retries += sum(budget.try_withdraw() for _ in range(wanted))
    assert retries <= 10.0 + 0.2 * requests + 1.0 * clock.now + 1e-9
