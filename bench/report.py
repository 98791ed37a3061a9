"""The tables `make bench` prints: one summary with a column per target, and the
cells of each target, every latency beside the direct call of the same period."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from bench.harness import WORKLOADS, Cell, TargetReport, Workload

__all__ = ["cells_table", "summary_table"]

_NON_STREAM, _STREAM, _SLOW_NON_STREAM, _SLOW_STREAM = WORKLOADS


def _num(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def _of(
    report: TargetReport, workload: Workload, concurrency: int, pick: Callable[[Cell], float]
) -> float | None:
    cell = report.cell(workload, concurrency)
    return pick(cell) if cell is not None else None


def _added(cell: Cell) -> float:
    return cell.target.p50 - cell.direct.p50


def _ratio(cell: Cell) -> float:
    return cell.target.p50 / cell.direct.p50 if cell.direct.p50 else math.nan


def _rows(report: TargetReport) -> list[tuple[str, str]]:
    def added(workload: Workload) -> str:
        return " / ".join(_num(_of(report, workload, c, _added)) for c in (1, 10, 50))

    return [
        ("added p50, non-stream, c=1 / 10 / 50 (ms)", added(_NON_STREAM)),
        ("added p50, 20-chunk stream, c=1 / 10 / 50 (ms)", added(_STREAM)),
        (
            "added time to first byte, stream, c=1 (ms)",
            _num(_of(report, _STREAM, 1, lambda c: c.target.ttft_p50 - c.direct.ttft_p50)),
        ),
        (
            "CPU per non-stream request, c=10 (ms)",
            _num(_of(report, _NON_STREAM, 10, lambda c: c.cpu_ms), 3),
        ),
        (
            "most non-stream requests/s (c=50)",
            _num(_of(report, _NON_STREAM, 50, lambda c: c.target.throughput), 0),
        ),
        (
            "CPU per 20-chunk stream, c=50 (ms)",
            _num(_of(report, _STREAM, 50, lambda c: c.cpu_ms), 3),
        ),
        ("most streams/s (c=50)", _num(_of(report, _STREAM, 50, lambda c: c.target.throughput), 0)),
        (
            "50 ms upstream, c=50: gateway p50 / direct p50, non-stream · stream",
            f"{_num(_of(report, _SLOW_NON_STREAM, 50, _ratio))} · "
            f"{_num(_of(report, _SLOW_STREAM, 50, _ratio))}",
        ),
        ("idle CPU (% of a core)", _num(report.idle_cpu_percent, 2)),
        ("peak resident memory, all processes (MiB)", _num(sum(report.peak_rss_mib.values()), 0)),
    ]


def summary_table(reports: Sequence[TargetReport]) -> str:
    header = "| one core | " + " | ".join(report.name for report in reports) + " |"
    lines = [header, "|---" * (len(reports) + 1) + "|"]
    columns = [_rows(report) for report in reports]
    for index, (label, _) in enumerate(columns[0]):
        lines.append(f"| {label} | " + " | ".join(col[index][1] for col in columns) + " |")
    memory = [
        f"{report.name}: "
        + ", ".join(f"{name} {mib:.0f}" for name, mib in report.peak_rss_mib.items())
        for report in reports
    ]
    return "\n".join([*lines, "", "peak memory per process (MiB):", *memory])


def cells_table(report: TargetReport) -> str:
    lines = [
        f"{report.name}: every cell (ms; direct and target interleaved in one period)",
        "| workload | c | direct p50 | p99 | target p50 | p99 | added p50 | ratio "
        "| ttfb added | CPU ms/req | target req/s | errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for cell in report.cells:
        lines.append(
            f"| {cell.workload.name} | {cell.concurrency} | {_num(cell.direct.p50)} "
            f"| {_num(cell.direct.p99)} | {_num(cell.target.p50)} | {_num(cell.target.p99)} "
            f"| {_num(_added(cell))} | {_num(_ratio(cell))} "
            f"| {_num(cell.target.ttft_p50 - cell.direct.ttft_p50)} | {_num(cell.cpu_ms, 3)} "
            f"| {_num(cell.target.throughput, 0)} | {cell.target.errors} |"
        )
    return "\n".join(lines)
