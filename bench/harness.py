"""The measurement plan of `make bench`: workloads by concurrency, interleaved.

For one target (a topology of the gateway, or a peer) every cell runs the same
closed-loop load against the upstream directly and through the target, in
alternating slices within one period, so that the ratio compares like with like
on a shared machine. CPU is read from /proc for the target's processes over its
slices only; peak memory is each process's VmHWM at the end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from bench.cpu import cpu_seconds, peak_rss_mib
from bench.driver import LoadResult, run_load

__all__ = [
    "CONCURRENCY",
    "DIRECT_MODEL",
    "WORKLOADS",
    "Cell",
    "Plan",
    "TargetReport",
    "Workload",
    "idle_cpu_percent",
    "measure",
]


@dataclass(frozen=True)
class Workload:
    name: str
    stream: bool
    latency_ms: int

    def body(self, model: str) -> bytes:
        # The upstream reads its latency from the `bench-l<N>` marker in the prompt, so
        # the model can be a real, priced one (budgets refuse unpriced models).
        document: dict[str, Any] = {
            "model": model,
            "messages": [{"role": "user", "content": f"ping bench-l{self.latency_ms}"}],
        }
        if self.stream:
            document["stream"] = True
        return orjson.dumps(document)


WORKLOADS = (
    Workload("non-stream, 0 ms upstream", stream=False, latency_ms=0),
    Workload("20-chunk stream, 0 ms upstream", stream=True, latency_ms=0),
    Workload("non-stream, 50 ms upstream", stream=False, latency_ms=50),
    Workload("20-chunk stream, 50 ms upstream", stream=True, latency_ms=50),
)
CONCURRENCY = (1, 10, 50)
# A model of the shipped registry and price table: the gateway routes it to the
# `openai` provider, whose base URL is the benchmark upstream.
DIRECT_MODEL = "gpt-4o-mini"


@dataclass(frozen=True)
class Plan:
    """How much load each cell gets; every slice is bounded in count and time."""

    requests: int = 1200
    stream_requests: int = 400
    slow_requests: int = 150
    rounds: int = 2
    slice_seconds: float = 2.5
    concurrency: Sequence[int] = CONCURRENCY
    workloads: Sequence[Workload] = WORKLOADS
    idle_seconds: float = 5.0

    def count(self, workload: Workload) -> int:
        if workload.latency_ms:
            return self.slow_requests
        return self.stream_requests if workload.stream else self.requests


@dataclass
class Cell:
    workload: Workload
    concurrency: int
    direct: LoadResult
    target: LoadResult
    cpu_ms: float

    def as_json(self) -> dict[str, Any]:
        return {
            "workload": self.workload.name,
            "stream": self.workload.stream,
            "upstream_latency_ms": self.workload.latency_ms,
            "concurrency": self.concurrency,
            "direct": _stats(self.direct),
            "target": _stats(self.target),
            "added_p50_ms": self.target.p50 - self.direct.p50,
            "added_p99_ms": self.target.p99 - self.direct.p99,
            "added_ttfb_p50_ms": self.target.ttft_p50 - self.direct.ttft_p50,
            "ratio_p50": self.target.p50 / self.direct.p50 if self.direct.p50 else None,
            "cpu_ms_per_request": self.cpu_ms,
        }


def _stats(result: LoadResult) -> dict[str, Any]:
    return {
        "completed": result.completed,
        "errors": result.errors,
        "p50_ms": result.p50,
        "p99_ms": result.p99,
        "ttfb_p50_ms": result.ttft_p50,
        "per_second": result.throughput,
    }


@dataclass
class TargetReport:
    name: str
    cells: list[Cell] = field(default_factory=list)
    idle_cpu_percent: float = 0.0
    peak_rss_mib: dict[str, float] = field(default_factory=dict)

    def cell(self, workload: Workload, concurrency: int) -> Cell | None:
        for cell in self.cells:
            if cell.workload == workload and cell.concurrency == concurrency:
                return cell
        return None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "idle_cpu_percent": self.idle_cpu_percent,
            "peak_rss_mib": self.peak_rss_mib,
            "peak_rss_mib_total": sum(self.peak_rss_mib.values()),
            "cells": [cell.as_json() for cell in self.cells],
        }


async def idle_cpu_percent(pids: Sequence[int], seconds: float) -> float:
    """Share of one core the processes use while nothing is sent to them."""
    before = cpu_seconds(list(pids))
    await asyncio.sleep(seconds)
    return (cpu_seconds(list(pids)) - before) / seconds * 100.0


async def measure(
    name: str,
    *,
    url: str,
    direct_url: str,
    headers: Mapping[str, str],
    processes: Mapping[str, int],
    plan: Plan,
    model: str = DIRECT_MODEL,
) -> TargetReport:
    """Run every cell of `plan` against `url`, interleaved with the upstream itself."""
    pids = list(processes.values())
    report = TargetReport(name)
    report.idle_cpu_percent = await idle_cpu_percent(pids, plan.idle_seconds)
    for workload in plan.workloads:
        for concurrency in plan.concurrency:
            report.cells.append(
                await _cell(workload, concurrency, url, direct_url, headers, pids, plan, model)
            )
    report.peak_rss_mib = {label: peak_rss_mib(pid) for label, pid in processes.items()}
    return report


async def _cell(  # noqa: PLR0917 (one private call site)
    workload: Workload,
    concurrency: int,
    url: str,
    direct_url: str,
    headers: Mapping[str, str],
    pids: list[int],
    plan: Plan,
    model: str,
) -> Cell:
    per_slice = max(concurrency, plan.count(workload) // plan.rounds)
    direct, target = LoadResult(concurrency), LoadResult(concurrency)
    spent = 0.0
    for _ in range(plan.rounds):
        direct.merge(
            await run_load(
                direct_url,
                workload.body(DIRECT_MODEL),
                {"Content-Type": "application/json"},
                concurrency=concurrency,
                requests=per_slice,
                max_seconds=plan.slice_seconds,
            )
        )
        before = cpu_seconds(pids)
        target.merge(
            await run_load(
                url,
                workload.body(model),
                {"Content-Type": "application/json", **headers},
                concurrency=concurrency,
                requests=per_slice,
                max_seconds=plan.slice_seconds,
            )
        )
        spent += cpu_seconds(pids) - before
    served = max(1, target.completed + target.errors)
    return Cell(workload, concurrency, direct, target, spent * 1000.0 / served)
