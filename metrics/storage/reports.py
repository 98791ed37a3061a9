"""Reports computed by the database: GROUP BY over the per-minute rollup (and
over raw events only for the partial minutes at the edges of the range),
percentiles over the raw events of the range (see `percentiles`), keyset
pagination ordered by (bucket, group)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from metrics.storage.paging import decode_token, encode_token, fingerprint
from metrics.storage.percentiles import percentiles
from metrics.storage.schema import ROLLUP_SUMS, usage_events, usage_minute

__all__ = [
    "OVERHEAD_BOUNDS_MS",
    "LatencyQuery",
    "LatencyRow",
    "OverheadQuery",
    "OverheadReport",
    "UsageQuery",
    "UsageReports",
    "UsageRow",
]

GROUP_COLUMNS = ("", "key_id", "team", "model", "provider")
BUCKETS = (0, 60, 3600, 86400)
OVERHEAD_BOUNDS_MS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0)
TRIPLE = (0.5, 0.95, 0.99)


@dataclass(frozen=True)
class Filters:
    key_id: str = ""
    team: str = ""
    model: str = ""
    provider: str = ""

    def conditions(self, table: sa.Table) -> list[sa.ColumnElement[bool]]:
        pairs = (
            ("key_id", self.key_id),
            ("team", self.team),
            ("model", self.model),
            ("provider", self.provider),
        )
        return [table.c[name] == value for name, value in pairs if value]


@dataclass(frozen=True)
class UsageQuery:
    """[start_us, end_us) in epoch microseconds; `group_by` one of GROUP_COLUMNS,
    `bucket_s` one of BUCKETS (0: the whole range)."""

    start_us: int
    end_us: int
    group_by: str = ""
    bucket_s: int = 0
    filters: Filters = Filters()
    page_size: int = 100
    page_token: str = ""

    def fingerprint(self) -> str:
        f = self.filters
        return fingerprint(
            "usage",
            self.start_us,
            self.end_us,
            self.group_by,
            self.bucket_s,
            f.key_id,
            f.team,
            f.model,
            f.provider,
        )


@dataclass
class UsageRow:
    bucket: int | None
    group: str
    sums: dict[str, int]
    latency: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class LatencyQuery:
    start_us: int
    end_us: int
    bucket_s: int = 0
    filters: Filters = Filters()
    page_size: int = 100
    page_token: str = ""

    def fingerprint(self) -> str:
        f = self.filters
        return fingerprint(
            "latency", self.start_us, self.end_us, self.bucket_s, f.model, f.provider
        )


@dataclass
class LatencyRow:
    bucket: int | None
    provider: str
    model: str
    requests: int
    errors: int
    percentiles: dict[str, float | None] = field(default_factory=dict)
    error_codes: list[tuple[str, int]] = field(default_factory=list)


@dataclass(frozen=True)
class OverheadQuery:
    start_us: int
    end_us: int
    filters: Filters = Filters()


@dataclass
class OverheadReport:
    requests: int
    mean_ms: float
    max_ms: float
    percentiles: dict[str, float | None]
    buckets: list[tuple[float, int]]


def _bucket(minute: sa.ColumnElement[int], bucket_s: int) -> sa.ColumnElement[int]:
    return minute - minute % bucket_s


def _in_range(start_us: int, end_us: int) -> list[sa.ColumnElement[bool]]:
    t = usage_events.c.time_us
    return [t >= start_us, t < end_us]


class UsageReports:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    # ------------------------------------------------------------- usage
    def summary(self, query: UsageQuery) -> tuple[list[UsageRow], str]:
        keys = _usage_keys(query)
        after = decode_token(query.page_token, query.fingerprint(), len(keys))
        grouped = _usage_grouped(query).subquery("g")
        select = sa.select(grouped).order_by(*(grouped.c[k] for k in keys))
        if after is not None:
            select = select.where(sa.tuple_(*(grouped.c[k] for k in keys)) > sa.tuple_(*after))
        if keys:
            select = select.limit(query.page_size + 1)
        with self.engine.connect() as connection:
            found = [dict(row) for row in connection.execute(select).mappings()]
            found = [row for row in found if row["requests"]]
            more = len(found) > query.page_size and bool(keys)
            page = [_usage_row(row, query) for row in found[: query.page_size]]
            self._add_latency(connection, query, page)
        token = encode_token(query.fingerprint(), _key_of(page[-1], keys)) if more else ""
        return page, token

    def _add_latency(
        self, connection: sa.Connection, query: UsageQuery, page: Sequence[UsageRow]
    ) -> None:
        if not page:
            return
        keys = _usage_keys(query)
        columns: list[Any] = [usage_events.c.latency_ms.label("latency")]
        conditions = [*_in_range(query.start_us, query.end_us)]
        conditions += query.filters.conditions(usage_events)
        if query.group_by:
            group = usage_events.c[query.group_by]
            columns.append(group.label("grp"))
            conditions.append(group.in_(sorted({row.group for row in page})))
        if query.bucket_s:
            columns.append(_bucket(usage_events.c.minute, query.bucket_s).label("bucket"))
            first, last = page[0].bucket or 0, page[-1].bucket or 0
            conditions += [
                usage_events.c.minute >= first,
                usage_events.c.minute < last + query.bucket_s,
            ]
        source = sa.select(*columns).where(*conditions).subquery("s")
        found = percentiles(connection, source, keys, {"latency": TRIPLE})
        for row in page:
            row.latency = found.get(_key_of(row, keys), {})

    # ----------------------------------------------------------- latency
    def latency(self, query: LatencyQuery) -> tuple[list[LatencyRow], str]:
        keys = ["bucket", "provider", "model"] if query.bucket_s else ["provider", "model"]
        after = decode_token(query.page_token, query.fingerprint(), len(keys))
        source = _latency_source(query).subquery("s")
        counts = (
            sa.select(
                *(source.c[k] for k in keys),
                sa.func.count().label("requests"),
                sa.func.sum(sa.case((source.c.is_error, 1), else_=0)).label("errors"),
            )
            .group_by(*(source.c[k] for k in keys))
            .subquery("g")
        )
        select = sa.select(counts).order_by(*(counts.c[k] for k in keys))
        if after is not None:
            select = select.where(sa.tuple_(*(counts.c[k] for k in keys)) > sa.tuple_(*after))
        with self.engine.connect() as connection:
            found = list(connection.execute(select.limit(query.page_size + 1)).mappings())
            page = [_latency_row(row) for row in found[: query.page_size]]
            self._add_latency_details(connection, query, keys, page)
        more = len(found) > query.page_size
        token = encode_token(query.fingerprint(), _latency_key(page[-1], keys)) if more else ""
        return page, token

    def _add_latency_details(
        self,
        connection: sa.Connection,
        query: LatencyQuery,
        keys: Sequence[str],
        page: Sequence[LatencyRow],
    ) -> None:
        if not page:
            return
        base = _latency_source(query, page).subquery("s")
        metrics = {name: TRIPLE for name in ("latency", "ttft", "upstream", "overhead")}
        found = percentiles(connection, base, keys, metrics)
        codes = (
            sa.select(*(base.c[k] for k in keys), base.c.error_code, sa.func.count().label("n"))
            .where(base.c.is_error)
            .group_by(*(base.c[k] for k in keys), base.c.error_code)
            .order_by(base.c.error_code)
        )
        by_key: dict[tuple[Any, ...], list[tuple[str, int]]] = {}
        for row in connection.execute(codes).mappings():
            by_key.setdefault(tuple(row[k] for k in keys), []).append(
                (row["error_code"], int(row["n"]))
            )
        for item in page:
            key = _latency_key(item, keys)
            item.percentiles = found.get(key, {})
            item.error_codes = by_key.get(key, [])

    # ---------------------------------------------------------- overhead
    def overhead(self, query: OverheadQuery) -> OverheadReport:
        conditions = [*_in_range(query.start_us, query.end_us)]
        conditions += query.filters.conditions(usage_events)
        value = usage_events.c.overhead_ms
        source = sa.select(value.label("overhead")).where(*conditions).subquery("s")
        index = sa.case(
            *((source.c.overhead <= bound, n) for n, bound in enumerate(OVERHEAD_BOUNDS_MS)),
            else_=len(OVERHEAD_BOUNDS_MS),
        ).label("idx")
        histogram = sa.select(index, sa.func.count().label("n")).group_by(index)
        totals = sa.select(
            sa.func.count(), sa.func.avg(source.c.overhead), sa.func.max(source.c.overhead)
        )
        with self.engine.connect() as connection:
            count, mean, peak = connection.execute(totals).one()
            counts = {int(i): int(n) for i, n in connection.execute(histogram)}
            found = percentiles(connection, source, [], {"overhead": (0.5, 0.9, 0.95, 0.99)})
        bounds = [*OVERHEAD_BOUNDS_MS, math.inf]
        return OverheadReport(
            requests=int(count or 0),
            mean_ms=float(mean or 0.0),
            max_ms=float(peak or 0.0),
            percentiles=found.get((), {}),
            buckets=[(bound, counts.get(n, 0)) for n, bound in enumerate(bounds)],
        )


def _usage_keys(query: UsageQuery) -> list[str]:
    return [*(["bucket"] if query.bucket_s else []), *(["grp"] if query.group_by else [])]


def _key_of(row: UsageRow | dict[str, Any], keys: Sequence[str]) -> tuple[Any, ...]:
    if isinstance(row, dict):
        return tuple(row[k] for k in keys)
    values = {"bucket": row.bucket, "grp": row.group}
    return tuple(values[k] for k in keys)


def _usage_row(row: dict[str, Any], query: UsageQuery) -> UsageRow:
    return UsageRow(
        bucket=int(row["bucket"]) if query.bucket_s else None,
        group=str(row["grp"]) if query.group_by else "",
        sums={name: int(row[name] or 0) for name in ROLLUP_SUMS},
    )


def _dims(table: sa.Table, query: UsageQuery) -> list[Any]:
    dims: list[Any] = []
    if query.bucket_s:
        dims.append(_bucket(table.c.minute, query.bucket_s).label("bucket"))
    if query.group_by:
        dims.append(table.c[query.group_by].label("grp"))
    return dims


def _usage_grouped(query: UsageQuery) -> sa.Select[Any]:
    """Full minutes from the rollup, edge minutes from raw events, summed."""
    first_full = -(-query.start_us // 60_000_000) * 60
    end_full = query.end_us // 60_000_000 * 60
    rollup = usage_minute
    from_rollup = sa.select(*_dims(rollup, query), *(rollup.c[n] for n in ROLLUP_SUMS)).where(
        rollup.c.minute >= first_full,
        rollup.c.minute < end_full,
        *query.filters.conditions(rollup),
    )
    e = usage_events
    one = sa.literal_column("1", sa.BigInteger)
    zero = sa.literal_column("0", sa.BigInteger)
    raw_values = {
        "requests": one,
        "errors": sa.case((e.c.is_error, one), else_=zero),
        "unpriced_requests": sa.case((e.c.cost_pusd.is_(None), one), else_=zero),
        "streamed_requests": sa.case((e.c.stream, one), else_=zero),
        "cost_pusd": sa.func.coalesce(e.c.cost_pusd, zero),
    }
    raw_columns = [(raw_values[n] if n in raw_values else e.c[n]).label(n) for n in ROLLUP_SUMS]
    t = e.c.time_us
    if first_full < end_full:  # two index ranges: the partial minutes at each edge
        head, tail = first_full * 1_000_000, end_full * 1_000_000
        edges = sa.or_(sa.and_(t >= query.start_us, t < head), sa.and_(t >= tail, t < query.end_us))
    else:
        edges = sa.and_(*_in_range(query.start_us, query.end_us))
    from_raw = sa.select(*_dims(e, query), *raw_columns).where(edges, *query.filters.conditions(e))
    union = sa.union_all(from_rollup, from_raw).subquery("u")
    keys = [union.c[k] for k in _usage_keys(query)]
    sums = [sa.func.sum(union.c[n]).label(n) for n in ROLLUP_SUMS]
    return sa.select(*keys, *sums).group_by(*keys)


def _latency_source(query: LatencyQuery, page: Sequence[LatencyRow] = ()) -> sa.Select[Any]:
    e = usage_events
    columns: list[Any] = [
        e.c.provider,
        e.c.model,
        e.c.is_error,
        e.c.error_code,
        e.c.latency_ms.label("latency"),
        sa.case((sa.and_(e.c.stream, e.c.ttft_ms > 0), e.c.ttft_ms)).label("ttft"),
        sa.case((e.c.upstream_ms > 0, e.c.upstream_ms)).label("upstream"),
        e.c.overhead_ms.label("overhead"),
    ]
    conditions = [*_in_range(query.start_us, query.end_us), *query.filters.conditions(e)]
    if query.bucket_s:
        columns.append(_bucket(e.c.minute, query.bucket_s).label("bucket"))
    if page:
        conditions.append(e.c.provider.in_(sorted({row.provider for row in page})))
        conditions.append(e.c.model.in_(sorted({row.model for row in page})))
        if query.bucket_s:
            first, last = page[0].bucket or 0, page[-1].bucket or 0
            conditions += [e.c.minute >= first, e.c.minute < last + query.bucket_s]
    return sa.select(*columns).where(*conditions)


def _latency_row(row: Any) -> LatencyRow:
    return LatencyRow(
        bucket=int(row["bucket"]) if "bucket" in row else None,
        provider=str(row["provider"]),
        model=str(row["model"]),
        requests=int(row["requests"]),
        errors=int(row["errors"] or 0),
    )


def _latency_key(row: LatencyRow, keys: Sequence[str]) -> tuple[Any, ...]:
    values = {"bucket": row.bucket, "provider": row.provider, "model": row.model}
    return tuple(values[k] for k in keys)
