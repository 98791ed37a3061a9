"""Continuous percentiles computed by the database.

PostgreSQL: the ordered-set aggregate `percentile_cont(p) WITHIN GROUP (ORDER BY v)`
(NULLs ignored, so a metric is excluded from a row by making it NULL).

SQLite has no percentile aggregate, so the same definition is written with
window functions: rank each group's non-NULL values (`ROW_NUMBER() - 1` as
`rn`, `COUNT(*)` as `n`), then for each p take the values at ranks
`lo = floor(p * (n - 1))` and `lo + 1` and interpolate by the fractional part:

    v[lo] + (p*(n-1) - lo) * (v[lo+1] - v[lo])          (v[lo] alone at the top)

which is exactly percentile_cont. It is one sort per metric in the database
(the rows never reach Python); the range scan uses the time index.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

__all__ = ["Percentiles", "percentile_label", "percentiles"]

Percentiles = dict[tuple[Any, ...], dict[str, float | None]]


def percentile_label(metric: str, fraction: float) -> str:
    return f"{metric}_p{round(fraction * 100)}"


def percentiles(
    connection: sa.Connection,
    source: sa.Subquery,
    keys: Sequence[str],
    metrics: Mapping[str, Sequence[float]],
) -> Percentiles:
    """{key tuple: {"<metric>_p<NN>": value}} for each metric column of `source`."""
    out: Percentiles = {}
    if connection.dialect.name == "postgresql":
        queries = [_ordered_set(source, keys, metrics)]
    else:
        queries = [_windowed(source, keys, name, fr) for name, fr in metrics.items()]
    for query in queries:
        for row in connection.execute(query).mappings():
            key = tuple(row[k] for k in keys)
            values = out.setdefault(key, {})
            values.update({k: _float(v) for k, v in row.items() if k not in keys})
    return out


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _ordered_set(
    source: sa.Subquery, keys: Sequence[str], metrics: Mapping[str, Sequence[float]]
) -> sa.Select[Any]:
    columns: list[Any] = [source.c[k] for k in keys]
    for name, fractions in metrics.items():
        for fraction in fractions:
            aggregate = sa.func.percentile_cont(fraction).within_group(source.c[name])
            columns.append(aggregate.label(percentile_label(name, fraction)))
    return sa.select(*columns).group_by(*(source.c[k] for k in keys))


def _windowed(
    source: sa.Subquery, keys: Sequence[str], metric: str, fractions: Sequence[float]
) -> sa.Select[Any]:
    value = source.c[metric]
    partition = [source.c[k] for k in keys] or None
    ranked = (
        sa.select(
            *(source.c[k] for k in keys),
            value.label("v"),
            (sa.func.row_number().over(partition_by=partition, order_by=value) - 1).label("rn"),
            sa.func.count().over(partition_by=partition).label("n"),
        )
        .where(value.is_not(None))
        .subquery()
    )
    columns: list[Any] = [ranked.c[k] for k in keys]
    for fraction in fractions:
        columns.append(_interpolated(ranked, fraction).label(percentile_label(metric, fraction)))
    return sa.select(*columns).group_by(*(ranked.c[k] for k in keys))


def _interpolated(ranked: sa.Subquery, fraction: float) -> sa.ColumnElement[Any]:
    p = sa.literal(fraction, sa.Float)
    low_rank = sa.cast(p * (ranked.c.n - 1), sa.Integer)  # SQLite CAST truncates: floor (>= 0)
    low = sa.func.max(sa.case((ranked.c.rn == low_rank, ranked.c.v)))
    high = sa.func.max(sa.case((ranked.c.rn == low_rank + 1, ranked.c.v)))
    position = p * (sa.func.max(ranked.c.n) - 1)
    frac = position - sa.cast(position, sa.Integer)
    return low + frac * (sa.func.coalesce(high, low) - low)
