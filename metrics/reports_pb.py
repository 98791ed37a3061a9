"""Report requests and rows between protos and the storage layer, and CSV."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from agentopia.v1 import metrics_service_pb2 as pb
from google.protobuf import timestamp_pb2

from metrics.client.pricing import format_usd
from metrics.storage.ingest import pusd_to_usd
from metrics.storage.reports import (
    Filters,
    LatencyQuery,
    LatencyRow,
    OverheadQuery,
    OverheadReport,
    UsageQuery,
    UsageRow,
)

__all__ = [
    "CSV_COLUMNS",
    "csv_chunks",
    "latency_query",
    "latency_response",
    "overhead_query",
    "overhead_response",
    "usage_query",
    "usage_response",
]

DEFAULT_RANGE = dt.timedelta(days=1)
DEFAULT_PAGE, MAX_PAGE, CSV_PAGE = 100, 1000, 1000
_GROUPS: dict[int, str] = {
    pb.USAGE_GROUP_BY_UNSPECIFIED: "",
    pb.USAGE_GROUP_BY_KEY: "key_id",
    pb.USAGE_GROUP_BY_TEAM: "team",
    pb.USAGE_GROUP_BY_MODEL: "model",
    pb.USAGE_GROUP_BY_PROVIDER: "provider",
}
_BUCKETS: dict[int, int] = {
    pb.TIME_BUCKET_UNSPECIFIED: 0,
    pb.TIME_BUCKET_MINUTE: 60,
    pb.TIME_BUCKET_HOUR: 3600,
    pb.TIME_BUCKET_DAY: 86400,
}
_TOKENS = ("prompt_tokens", "completion_tokens", "cached_tokens", "cache_creation_tokens")
_COUNTS = (
    "requests",
    "errors",
    "unpriced_requests",
    "streamed_requests",
    *_TOKENS,
    "reasoning_tokens",
    "retries",
    "failovers",
)
CSV_COLUMNS = (
    "bucket_start_time",
    "group",
    *_COUNTS,
    "cost_usd",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
)


def _micros(stamp: timestamp_pb2.Timestamp) -> int:
    return stamp.seconds * 1_000_000 + stamp.nanos // 1000


def _range(
    start: timestamp_pb2.Timestamp,
    end: timestamp_pb2.Timestamp,
    has_start: bool,
    has_end: bool,
    now: dt.datetime,
) -> tuple[int, int]:
    now_us = int(now.timestamp() * 1_000_000)
    end_us = _micros(end) if has_end else now_us
    start_us = _micros(start) if has_start else end_us - int(DEFAULT_RANGE.total_seconds() * 1e6)
    if start_us >= end_us:
        raise ValueError("start_time must be before end_time")
    return start_us, end_us


def _page_size(size: int) -> int:
    if size < 0:
        raise ValueError("page_size must not be negative")
    return min(size or DEFAULT_PAGE, MAX_PAGE)


def _group(value: int) -> str:
    if value not in _GROUPS:
        raise ValueError(f"group_by {value} is not supported")
    return _GROUPS[value]


def _bucket(value: int) -> int:
    if value not in _BUCKETS:
        raise ValueError(f"time_bucket {value} is not supported")
    return _BUCKETS[value]


def usage_query(
    request: pb.GetUsageSummaryRequest | pb.ExportUsageCsvRequest, now: dt.datetime
) -> UsageQuery:
    start_us, end_us = _range(
        request.start_time,
        request.end_time,
        request.HasField("start_time"),
        request.HasField("end_time"),
        now,
    )
    size, token = CSV_PAGE, ""
    if isinstance(request, pb.GetUsageSummaryRequest):
        size, token = request.page_size, request.page_token
    return UsageQuery(
        start_us=start_us,
        end_us=end_us,
        group_by=_group(request.group_by),
        bucket_s=_bucket(request.time_bucket),
        filters=Filters(request.key_id, request.team, request.model, request.provider),
        page_size=_page_size(size),
        page_token=token,
    )


def latency_query(request: pb.GetLatencyReportRequest, now: dt.datetime) -> LatencyQuery:
    start_us, end_us = _range(
        request.start_time,
        request.end_time,
        request.HasField("start_time"),
        request.HasField("end_time"),
        now,
    )
    return LatencyQuery(
        start_us=start_us,
        end_us=end_us,
        bucket_s=_bucket(request.time_bucket),
        filters=Filters(model=request.model, provider=request.provider),
        page_size=_page_size(request.page_size),
        page_token=request.page_token,
    )


def overhead_query(request: pb.GetOverheadReportRequest, now: dt.datetime) -> OverheadQuery:
    start_us, end_us = _range(
        request.start_time,
        request.end_time,
        request.HasField("start_time"),
        request.HasField("end_time"),
        now,
    )
    return OverheadQuery(start_us, end_us, Filters(model=request.model, provider=request.provider))


def _stamp(seconds: int | None) -> timestamp_pb2.Timestamp | None:
    if seconds is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromSeconds(seconds)
    return stamp


def _ms(value: float | None) -> float:
    return 0.0 if value is None else value


def usage_row(row: UsageRow) -> pb.UsageSummaryRow:
    return pb.UsageSummaryRow(
        group=row.group,
        bucket_start_time=_stamp(row.bucket),
        cost_usd=format_usd(pusd_to_usd(row.sums["cost_pusd"])),
        latency_p50_ms=_ms(row.latency.get("latency_p50")),
        latency_p95_ms=_ms(row.latency.get("latency_p95")),
        latency_p99_ms=_ms(row.latency.get("latency_p99")),
        **{name: row.sums[name] for name in _COUNTS},
    )


def usage_response(rows: Sequence[UsageRow], token: str) -> pb.GetUsageSummaryResponse:
    return pb.GetUsageSummaryResponse(rows=[usage_row(r) for r in rows], next_page_token=token)


def latency_response(rows: Sequence[LatencyRow], token: str) -> pb.GetLatencyReportResponse:
    out = pb.GetLatencyReportResponse(next_page_token=token)
    for row in rows:
        values = {
            f"{field}_p{n}_ms": _ms(row.percentiles.get(f"{metric}_p{n}"))
            for metric, field in (
                ("latency", "latency"),
                ("ttft", "time_to_first_token"),
                ("upstream", "upstream_latency"),
                ("overhead", "overhead"),
            )
            for n in (50, 95, 99)
        }
        out.rows.append(
            pb.LatencyReportRow(
                provider=row.provider,
                model=row.model,
                bucket_start_time=_stamp(row.bucket),
                requests=row.requests,
                errors=row.errors,
                error_rate=row.errors / row.requests if row.requests else 0.0,
                error_codes=[pb.ErrorCodeCount(error_code=c, count=n) for c, n in row.error_codes],
                **values,
            )
        )
    return out


def overhead_response(report: OverheadReport) -> pb.GetOverheadReportResponse:
    p = report.percentiles
    return pb.GetOverheadReportResponse(
        requests=report.requests,
        mean_ms=report.mean_ms,
        max_ms=report.max_ms,
        p50_ms=_ms(p.get("overhead_p50")),
        p90_ms=_ms(p.get("overhead_p90")),
        p95_ms=_ms(p.get("overhead_p95")),
        p99_ms=_ms(p.get("overhead_p99")),
        buckets=[pb.OverheadBucket(upper_bound_ms=b, count=n) for b, n in report.buckets],
    )


def _iso(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat().replace("+00:00", "Z")


def _cell(value: str) -> str:
    """Neutralise spreadsheet formulas in free-text cells (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _csv(rows: Sequence[UsageRow], header: bool) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header:
        writer.writerow(CSV_COLUMNS)
    for row in rows:
        bucket = "" if row.bucket is None else _iso(row.bucket)
        latency = [row.latency.get(f"latency_p{n}") for n in (50, 95, 99)]
        writer.writerow(
            [
                bucket,
                _cell(row.group),
                *(row.sums[name] for name in _COUNTS),
                format_usd(pusd_to_usd(row.sums["cost_pusd"])),
                *("" if v is None or math.isnan(v) else repr(v) for v in latency),
            ]
        )
    return buffer.getvalue().encode()


async def csv_chunks(
    query: UsageQuery,
    fetch: Callable[[UsageQuery], Awaitable[tuple[list[UsageRow], str]]],
) -> AsyncIterator[bytes]:
    """The header, then one chunk per page until the last."""
    rows, token = await fetch(query)
    yield _csv(rows, header=True)
    while token:
        rows, token = await fetch(dataclasses.replace(query, page_token=token))
        yield _csv(rows, header=False)
