"""A bounded closed-loop HTTP load generator (aiohttp, keep-alive) and the
statistics it reports. Traffic goes to 127.0.0.1 only; every run is bounded by
a request count and a wall-clock limit."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp

__all__ = ["LoadResult", "percentile", "run_load"]


@dataclass(frozen=True)
class LoadResult:
    concurrency: int
    latencies_ms: list[float]
    errors: int
    wall_s: float

    @property
    def p50(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 99)

    @property
    def throughput(self) -> float:
        return len(self.latencies_ms) / self.wall_s if self.wall_s else 0.0


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(pct) - 1]


async def run_load(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    concurrency: int,
    requests: int,
    max_seconds: float,
    warmup: int = 50,
) -> LoadResult:
    """`requests` POSTs over `concurrency` keep-alive connections, after a warm-up."""
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> float | None:
            started = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                ok = response.status == 200
            return (time.perf_counter() - started) * 1000.0 if ok else None

        for _ in range(warmup):
            await one()
        latencies: list[float] = []
        errors = 0
        remaining = requests
        deadline = time.perf_counter() + max_seconds
        started = time.perf_counter()

        async def worker() -> None:
            nonlocal remaining, errors
            while remaining > 0 and time.perf_counter() < deadline:
                remaining -= 1
                result = await one()
                if result is None:
                    errors += 1
                else:
                    latencies.append(result)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return LoadResult(concurrency, latencies, errors, time.perf_counter() - started)
