"""Client-key limits that hold across router replicas: reserve at admission, settle
with true usage, release on failure. See keyvault/README.md for the over-admission bound.

    limiter = open_limiter(os.environ.get("AGENTOPIA_LIMITS_REDIS_URL", ""))
    reservation = await limiter.reserve(key.key_id, Limits.of(key), tokens=est, cost_micros=c)
    ...  # call the provider
    await limiter.settle(reservation, tokens=used, cost_micros=cost)   # or release()

The Redis limiter is `keyvault.client.limits.redis_limiter.RedisLimiter`; it is not
imported here, so a process without a Redis URL never loads the Redis client (about
16 MiB of resident memory).
"""

from __future__ import annotations

from keyvault.client.limits.memory_limiter import MemoryLimiter
from keyvault.client.limits.periods import BudgetPeriod
from keyvault.client.limits.types import KeyUsage, Limiter, Limits, Reservation, limit_exceeded

__all__ = [
    "BudgetPeriod",
    "KeyUsage",
    "Limiter",
    "Limits",
    "MemoryLimiter",
    "Reservation",
    "limit_exceeded",
    "open_limiter",
]


def open_limiter(
    redis_url: str,
    *,
    prefix: str = "agentopia:limits",
    window_s: float = 60.0,
    reservation_ttl_s: float = 600.0,
    timeout_s: float = 1.0,
) -> Limiter:
    """Redis when a URL is given (shared by all replicas; every Redis operation bounded
    by `timeout_s`), else in-process."""
    if redis_url:
        from keyvault.client.limits.redis_limiter import RedisLimiter  # noqa: PLC0415

        return RedisLimiter.from_url(
            redis_url,
            prefix=prefix,
            window_s=window_s,
            reservation_ttl_s=reservation_ttl_s,
            timeout_s=timeout_s,
        )
    return MemoryLimiter(window_s=window_s, reservation_ttl_s=reservation_ttl_s)
