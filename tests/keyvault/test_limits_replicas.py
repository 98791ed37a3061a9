"""The bound that holds across router replicas: two independent limiter clients (one in
another thread with its own event loop and Redis connections) share one key's limits."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

from keyvault.client.limits import BudgetPeriod, Limits
from keyvault.client.limits.redis_limiter import RedisLimiter
from services.kernel.errors import GatewayError
from tests.support.backing import redis_url

Worker = Callable[[RedisLimiter], Awaitable[int]]


async def _run_two_replicas(prefix: str, worker: Worker) -> tuple[int, int]:
    """Run `worker` on two independent limiter clients at once; their admitted counts."""

    async def replica() -> int:
        limiter = RedisLimiter.from_url(redis_url(), prefix=prefix)
        try:
            return await worker(limiter)
        finally:
            await limiter.aclose()

    in_thread = asyncio.to_thread(asyncio.run, replica())
    here, there = await asyncio.gather(replica(), in_thread)
    return here, there


async def test_rpm_60_admits_exactly_60_across_two_replicas(redis_prefix: str) -> None:
    key, limits = f"key_rpm_{random.getrandbits(40):x}", Limits(rpm=60)

    async def burst(limiter: RedisLimiter) -> int:
        async def one() -> bool:
            try:
                await limiter.reserve(key, limits, tokens=10, cost_micros=0)
            except GatewayError:
                return False
            return True

        return sum(await asyncio.gather(*(one() for _ in range(100))))

    here, there = await _run_two_replicas(redis_prefix, burst)
    assert here + there == 60  # the stated bound for RPM is 0


async def _spend(limiter: RedisLimiter, key: str, limits: Limits, actual: Callable[[], int]) -> int:
    """Keep 8 requests in flight, each reserving 30_000 micro-USD and settling `actual()`,
    until the budget refuses for the rest of the period."""
    admitted = 0

    async def lane() -> None:
        nonlocal admitted
        while True:
            try:
                reservation = await limiter.reserve(key, limits, tokens=10, cost_micros=30_000)
            except GatewayError as error:
                if error.retry_after_s is None or error.retry_after_s > 1.0:
                    return  # spent: nothing will fit until the period ends
                await asyncio.sleep(0.005)  # blocked by requests in flight; they will settle
                continue
            admitted += 1
            await asyncio.sleep(random.uniform(0, 0.003))
            await limiter.settle(reservation, tokens=10, cost_micros=actual())

    await asyncio.gather(*(lane() for _ in range(8)))
    return admitted


async def _spent(prefix: str, key: str, limits: Limits) -> int:
    limiter = RedisLimiter.from_url(redis_url(), prefix=prefix)
    try:
        return (await limiter.usage(key, limits)).spent_micros
    finally:
        await limiter.aclose()


async def test_a_one_dollar_budget_never_overspends_when_estimates_hold(redis_prefix: str) -> None:
    key = f"key_budget_{random.getrandbits(40):x}"
    limits = Limits(budget_micros=1_000_000, period=BudgetPeriod.TOTAL)

    async def worker(limiter: RedisLimiter) -> int:
        return await _spend(limiter, key, limits, lambda: random.randint(5_000, 30_000))

    await _run_two_replicas(redis_prefix, worker)
    spent = await _spent(redis_prefix, key, limits)
    assert 1_000_000 - 30_000 < spent <= 1_000_000  # stopped at $1, bound 0


async def test_overruns_stay_within_the_stated_bound(redis_prefix: str) -> None:
    """Usage above the estimate can pass the budget only by what requests in flight at
    that moment overran: at most 16 in flight x 15_000 micro-USD here."""
    key = f"key_overrun_{random.getrandbits(40):x}"
    limits = Limits(budget_micros=1_000_000, period=BudgetPeriod.TOTAL)

    async def worker(limiter: RedisLimiter) -> int:
        return await _spend(limiter, key, limits, lambda: random.randint(20_000, 45_000))

    await _run_two_replicas(redis_prefix, worker)
    spent = await _spent(redis_prefix, key, limits)
    assert 1_000_000 - 30_000 < spent <= 1_000_000 + 16 * 15_000
