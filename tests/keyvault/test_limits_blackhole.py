"""A Redis that accepts connections and then never answers (a black-holed network path,
a frozen primary) must fail admission closed within the limiter's bound — never stall
the requests queued behind it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest

from keyvault.client.limits import Limits, Reservation
from keyvault.client.limits.periods import BudgetPeriod
from keyvault.client.limits.redis_limiter import RedisLimiter
from services.kernel.errors import GatewayError

# A guard against a hang, far above the limiter's own bound: the test asserts the
# outcome, never a duration.
HANG_GUARD_S = 20.0


@pytest.fixture
async def black_hole() -> AsyncIterator[str]:
    """A TCP server that accepts, reads nothing and writes nothing."""
    held: list[asyncio.StreamWriter] = []

    async def swallow(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"redis://127.0.0.1:{port}/0"
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


def _limits() -> Limits:
    return Limits(rpm=10)


async def test_reserve_fails_closed_when_redis_never_answers(black_hole: str) -> None:
    limiter = RedisLimiter.from_url(black_hole, timeout_s=0.2)
    try:
        with pytest.raises(GatewayError) as raised:
            await asyncio.wait_for(
                limiter.reserve("key_1", _limits(), tokens=10, cost_micros=0), HANG_GUARD_S
            )
        assert raised.value.status is grpc.StatusCode.UNAVAILABLE
        assert raised.value.code == "limits_unavailable"
    finally:
        await limiter.aclose()


async def test_many_waiters_all_fail_closed_beyond_the_pool(black_hole: str) -> None:
    """More callers than connections: the ones queued for a connection are bounded too."""
    limiter = RedisLimiter.from_url(
        black_hole, timeout_s=0.2, queue_timeout_s=0.5, max_connections=2
    )
    try:
        outcomes = await asyncio.wait_for(
            asyncio.gather(
                *(
                    limiter.reserve(f"key_{n}", _limits(), tokens=1, cost_micros=0)
                    for n in range(8)
                ),
                return_exceptions=True,
            ),
            HANG_GUARD_S,
        )
        assert all(
            isinstance(outcome, GatewayError) and outcome.code == "limits_unavailable"
            for outcome in outcomes
        ), outcomes
    finally:
        await limiter.aclose()


async def test_settle_and_release_return_when_redis_never_answers(black_hole: str) -> None:
    """Settling never fails a finished request: the reservation expires at its estimate."""
    limiter = RedisLimiter.from_url(black_hole, timeout_s=0.2)
    reservation = Reservation("key_1", "r1", 10, 0, BudgetPeriod.NONE)
    try:
        await asyncio.wait_for(limiter.settle(reservation, tokens=5, cost_micros=0), HANG_GUARD_S)
        await asyncio.wait_for(limiter.release(reservation), HANG_GUARD_S)
    finally:
        await limiter.aclose()
