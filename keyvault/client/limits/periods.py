"""Budget periods in UTC (the same arithmetic as limiter.lua): id, start and end."""

from __future__ import annotations

import datetime as dt
import enum

__all__ = ["BudgetPeriod", "period_bounds"]


class BudgetPeriod(enum.StrEnum):
    """How often a client key's budget starts afresh; NONE is a key without a budget
    (its usage is still counted by month)."""

    NONE = ""
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    TOTAL = "total"


_DAY_MS = 86_400_000


def period_bounds(period: BudgetPeriod, now_ms: int) -> tuple[str, int, int]:
    """(id, start ms, end ms; end 0 = never) of the period holding `now_ms`."""
    day = now_ms // _DAY_MS
    if period is BudgetPeriod.DAILY:
        return f"d{day}", day * _DAY_MS, (day + 1) * _DAY_MS
    if period is BudgetPeriod.WEEKLY:
        start = (day + 3) // 7 * 7 - 3  # weeks start on Monday; day 0 was a Thursday
        return f"w{start}", start * _DAY_MS, (start + 7) * _DAY_MS
    if period in (BudgetPeriod.MONTHLY, BudgetPeriod.NONE):
        date = dt.date(1970, 1, 1) + dt.timedelta(days=day)
        first = date.replace(day=1)
        following = (first + dt.timedelta(days=32)).replace(day=1)
        epoch = dt.date(1970, 1, 1)
        return (
            f"m{date.year}-{date.month}",
            (first - epoch).days * _DAY_MS,
            (following - epoch).days * _DAY_MS,
        )
    return "t", 0, 0
