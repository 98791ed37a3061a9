"""The shared limiter: one Lua script in Redis does each check-and-update atomically on
Redis's own clock, so any number of router replicas enforce one limit per key."""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.resources
import logging
import secrets
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from keyvault.client.limits.periods import BudgetPeriod
from keyvault.client.limits.types import (
    KeyUsage,
    Limits,
    Reservation,
    check_amounts,
    limit_exceeded,
    limits_unavailable,
)
from services.kernel.errors import GatewayError

__all__ = ["RedisLimiter"]

_log = logging.getLogger(__name__)

_SCRIPT = importlib.resources.files("keyvault.client.limits").joinpath("limiter.lua").read_text()


def _kind(period: BudgetPeriod) -> str:
    return period.value if period is not BudgetPeriod.NONE else BudgetPeriod.MONTHLY.value


class RedisLimiter:
    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "agentopia:limits",
        window_s: float = 60.0,
        reservation_ttl_s: float = 600.0,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._window_ms = int(window_s * 1000)
        self._ttl_ms = int(reservation_ttl_s * 1000)
        self._script = client.register_script(_SCRIPT)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        max_connections: int = 50,
        timeout_s: float = 1.0,
        queue_timeout_s: float = 5.0,
        **options: Any,
    ) -> RedisLimiter:
        """A limiter on its own pool. Every connect, read and write is bounded by
        `timeout_s`: a black-holed Redis fails admission closed within the bound (503
        `limits_unavailable`) instead of stalling every request behind it. Callers
        beyond `max_connections` queue for a connection up to `queue_timeout_s` (a
        burst waits its turn; each turn is itself bounded)."""
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=queue_timeout_s,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
        )
        return cls(aioredis.Redis(connection_pool=pool), **options)

    def _keys(self, key_id: str) -> list[str]:
        base = f"{self._prefix}:{{{key_id}}}"
        return [f"{base}:win", f"{base}:amt", f"{base}:st", f"{base}:res", f"{base}:exp"]

    async def _call(
        self, key_id: str, op: str, period: BudgetPeriod, *args: str | int
    ) -> list[Any]:
        argv = [op, self._window_ms, _kind(period), self._ttl_ms, *args]
        try:
            result: list[Any] = await self._script(keys=self._keys(key_id), args=argv)
        except RedisError as error:
            _log.warning("limits store unreachable (%s)", type(error).__name__)
            raise limits_unavailable() from None
        return result

    async def reserve(
        self, key_id: str, limits: Limits, *, tokens: int, cost_micros: int
    ) -> Reservation:
        check_amounts(tokens, cost_micros)
        rid = secrets.token_hex(8)
        budget = -1 if limits.budget_micros is None else limits.budget_micros
        admitted, limit, retry_ms, used = await self._call(
            key_id,
            "reserve",
            limits.period,
            rid,
            tokens,
            cost_micros,
            limits.rpm,
            limits.tpm,
            budget,
        )
        if not admitted:
            name = limit.decode() if isinstance(limit, bytes) else str(limit)
            raise limit_exceeded(name, limits, int(retry_ms), tokens=tokens, used=int(used))
        return Reservation(key_id, rid, tokens, cost_micros, limits.period)

    async def settle(self, reservation: Reservation, *, tokens: int, cost_micros: int) -> None:
        """Never raises for an unreachable store: the reservation then settles at its
        estimate when its TTL passes (conservative)."""
        check_amounts(tokens, cost_micros)
        with contextlib.suppress(GatewayError):
            await self._call(
                reservation.key_id,
                "settle",
                reservation.period,
                reservation.reservation_id,
                tokens,
                cost_micros,
            )

    async def release(self, reservation: Reservation) -> None:
        with contextlib.suppress(GatewayError):
            await self._call(
                reservation.key_id, "release", reservation.period, reservation.reservation_id
            )

    async def usage(self, key_id: str, limits: Limits) -> KeyUsage:
        values = [int(v) for v in await self._call(key_id, "peek", limits.period)]
        requests, tokens, in_flight, spent, reserved, preq, ptok, pstart = values
        start = None
        if _kind(limits.period) != BudgetPeriod.TOTAL.value:
            start = dt.datetime.fromtimestamp(pstart / 1000, dt.UTC)
        return KeyUsage(requests, tokens, in_flight, spent, reserved, preq, ptok, start)

    async def aclose(self) -> None:
        await self._client.aclose()
        await self._client.connection_pool.disconnect()
