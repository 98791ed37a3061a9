"""The client-key limiter (Redis and in-process): reserve / settle / release, each limit's
429, and the over-admission bound under concurrency with two independent clients."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import pytest
from agentopia.v1 import client_key_service_pb2 as ck_pb2

from keyvault.client.limits import (
    BudgetPeriod,
    Limiter,
    Limits,
    MemoryLimiter,
    Reservation,
)
from keyvault.client.limits.periods import period_bounds
from keyvault.client.limits.redis_limiter import RedisLimiter
from services.kernel.errors import GatewayError
from tests.support.backing import redis_url

TIMEOUT = 30.0
_KEYS = itertools.count()
MakeLimiter = Callable[..., Limiter]


@pytest.fixture(params=["redis", "memory"])
async def make_limiter(
    request: pytest.FixtureRequest, redis_prefix: str
) -> AsyncIterator[MakeLimiter]:
    made: list[Limiter] = []

    def make(**options: Any) -> Limiter:
        limiter: Limiter
        if request.param == "redis":
            limiter = RedisLimiter.from_url(redis_url(), prefix=redis_prefix, **options)
        else:
            limiter = MemoryLimiter(**options)
        made.append(limiter)
        return limiter

    yield make
    for limiter in made:
        await limiter.aclose()


def _key() -> str:
    return f"key_{next(_KEYS)}_{random.getrandbits(32):x}"


async def _try(
    limiter: Limiter, key: str, limits: Limits, tokens: int = 1, cost: int = 0
) -> Reservation | GatewayError:
    try:
        return await limiter.reserve(key, limits, tokens=tokens, cost_micros=cost)
    except GatewayError as error:
        return error


async def _until(check: Callable[[], Awaitable[bool]]) -> None:
    async def loop() -> None:
        while not await check():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(loop(), TIMEOUT)


async def test_rpm_admits_exactly_the_limit_in_a_concurrent_burst(
    make_limiter: MakeLimiter,
) -> None:
    limiter, key, limits = make_limiter(), _key(), Limits(rpm=60)
    results = await asyncio.gather(*(_try(limiter, key, limits) for _ in range(150)))
    admitted = [r for r in results if isinstance(r, Reservation)]
    rejected = [r for r in results if isinstance(r, GatewayError)]
    assert len(admitted) == 60 and len(rejected) == 90
    error = rejected[0]
    assert (error.status, error.http_status, error.code) == (
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        429,
        "rate_limit_exceeded",
    )
    assert error.retry_after_s is not None and 0 < error.retry_after_s <= 60
    assert "60 requests per minute" in error.message
    assert error.metadata["limit"] == "rpm"


async def test_release_gives_the_slot_back_and_settle_keeps_it(make_limiter: MakeLimiter) -> None:
    limiter, key, limits = make_limiter(), _key(), Limits(rpm=2)
    first = await limiter.reserve(key, limits, tokens=1, cost_micros=0)
    second = await limiter.reserve(key, limits, tokens=1, cost_micros=0)
    assert isinstance(await _try(limiter, key, limits), GatewayError)
    await limiter.release(first)
    await limiter.release(first)  # idempotent
    third = await limiter.reserve(key, limits, tokens=1, cost_micros=0)
    await limiter.settle(second, tokens=1, cost_micros=0)
    await limiter.settle(third, tokens=1, cost_micros=0)
    assert isinstance(await _try(limiter, key, limits), GatewayError)
    usage = await limiter.usage(key, limits)
    assert (usage.requests_in_window, usage.in_flight, usage.requests_in_period) == (2, 0, 2)


async def test_tpm_holds_estimates_and_settles_to_true_usage(make_limiter: MakeLimiter) -> None:
    limiter, key, limits = make_limiter(), _key(), Limits(tpm=100)
    first = await limiter.reserve(key, limits, tokens=60, cost_micros=0)
    blocked = await _try(limiter, key, limits, tokens=60)
    assert isinstance(blocked, GatewayError) and blocked.code == "token_rate_limit_exceeded"
    assert blocked.retry_after_s is not None and "100 tokens per minute" in blocked.message
    await limiter.settle(first, tokens=30, cost_micros=0)  # used less than estimated
    await limiter.reserve(key, limits, tokens=60, cost_micros=0)
    too_big = await _try(limiter, key, limits, tokens=101)
    assert isinstance(too_big, GatewayError) and too_big.code == "request_too_large"
    assert too_big.retry_after_s is None and too_big.http_status == 429
    assert (await limiter.usage(key, limits)).tokens_in_window == 90


async def test_budget_stops_spending_at_the_budget(make_limiter: MakeLimiter) -> None:
    limiter, key = make_limiter(), _key()
    limits = Limits(budget_micros=1_000_000, period=BudgetPeriod.DAILY)
    held = [await limiter.reserve(key, limits, tokens=1, cost_micros=300_000) for _ in range(3)]
    in_flight = await _try(limiter, key, limits, cost=300_000)
    assert isinstance(in_flight, GatewayError) and in_flight.code == "budget_exceeded"
    assert in_flight.retry_after_s == 1.0  # may fit once requests in flight settle
    for reservation in held:
        await limiter.settle(reservation, tokens=1, cost_micros=250_000)
    last = await limiter.reserve(key, limits, tokens=1, cost_micros=250_000)
    assert isinstance(await _try(limiter, key, limits, cost=1), GatewayError)
    await limiter.settle(last, tokens=1, cost_micros=250_000)
    spent = await _try(limiter, key, limits, cost=1)
    assert isinstance(spent, GatewayError) and spent.code == "budget_exceeded"
    assert spent.retry_after_s is not None and 1 < spent.retry_after_s <= 86_400
    assert "$1.00 per day ($1.00 spent)" in spent.message
    usage = await limiter.usage(key, limits)
    assert (usage.spent_micros, usage.reserved_micros, usage.requests_in_period) == (
        1_000_000,
        0,
        4,
    )
    total = await _try(limiter, _key(), Limits(budget_micros=0, period=BudgetPeriod.TOTAL), cost=1)
    assert isinstance(total, GatewayError) and total.retry_after_s is None


async def test_the_window_slides(make_limiter: MakeLimiter) -> None:
    limiter, key, limits = make_limiter(window_s=0.3), _key(), Limits(rpm=2)
    for _ in range(2):
        await limiter.reserve(key, limits, tokens=1, cost_micros=0)
    assert isinstance(await _try(limiter, key, limits), GatewayError)

    async def admitted() -> bool:
        return isinstance(await _try(limiter, key, limits), Reservation)

    await _until(admitted)


async def test_an_abandoned_reservation_is_settled_at_its_estimate(
    make_limiter: MakeLimiter,
) -> None:
    limiter, key, limits = make_limiter(reservation_ttl_s=0.2), _key(), Limits(budget_micros=10**6)
    await limiter.reserve(key, limits, tokens=7, cost_micros=500)

    async def settled() -> bool:
        usage = await limiter.usage(key, limits)
        return usage.in_flight == 0 and usage.spent_micros == 500 and usage.reserved_micros == 0

    await _until(settled)


@pytest.mark.parametrize(
    "period", [BudgetPeriod.DAILY, BudgetPeriod.WEEKLY, BudgetPeriod.MONTHLY, BudgetPeriod.TOTAL]
)
async def test_period_boundaries_agree_with_python(
    make_limiter: MakeLimiter, period: BudgetPeriod
) -> None:
    limiter = make_limiter()
    before = dt.datetime.now(dt.UTC)
    usage = await limiter.usage(_key(), Limits(period=period))
    after = dt.datetime.now(dt.UTC)
    if period is BudgetPeriod.TOTAL:
        assert usage.period_start is None
        return
    starts = {
        dt.datetime.fromtimestamp(
            period_bounds(period, int(m.timestamp() * 1000))[1] / 1000, dt.UTC
        )
        for m in (before, after)
    }
    assert usage.period_start in starts
    assert usage.period_start is not None and usage.period_start <= before
    if period is BudgetPeriod.WEEKLY:
        assert usage.period_start.weekday() == 0
    if period is BudgetPeriod.MONTHLY:
        assert usage.period_start.day == 1


def test_limits_of_a_watched_client_key() -> None:
    key = ck_pb2.ClientKey(
        rpm_limit=60, tpm_limit=1000, budget_usd="1.25", budget_period=ck_pb2.BUDGET_PERIOD_WEEKLY
    )
    assert Limits.of(key) == Limits(60, 1000, 1_250_000, BudgetPeriod.WEEKLY)
    assert Limits.of(ck_pb2.ClientKey()) == Limits()


async def test_an_unreachable_store_fails_closed_on_reserve_only() -> None:
    limiter = RedisLimiter.from_url("redis://127.0.0.1:1/0")  # nothing listens there
    try:
        with pytest.raises(GatewayError) as caught:
            await limiter.reserve("key_x", Limits(rpm=1), tokens=1, cost_micros=0)
        assert (caught.value.status, caught.value.code) == (
            grpc.StatusCode.UNAVAILABLE,
            "limits_unavailable",
        )
        reservation = Reservation("key_x", "r1", 1, 0, BudgetPeriod.MONTHLY)
        await limiter.settle(reservation, tokens=1, cost_micros=0)  # settles at TTL instead
        await limiter.release(reservation)
    finally:
        await limiter.aclose()
