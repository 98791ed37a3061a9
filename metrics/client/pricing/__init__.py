"""Pricing: the versioned price table shipped in `prices.toml` and exact costs.

The router prices each request before it emits the usage event:

    from metrics.client import pricing
    result = pricing.price("openai/gpt-4o", usage, at)        # or provider="openai"
    event.cost_usd = result.cost_str if isinstance(result, pricing.Priced) else ""

A model without a price is `Unpriced` (with a reason), never silently $0; the
metrics service counts such requests as unpriced in every report.
"""

from __future__ import annotations

import datetime as dt
import functools

from metrics.client.pricing.cost import (
    CostBreakdown,
    Priced,
    TokenUsage,
    Unpriced,
    UsageTokens,
    compute,
    format_usd,
)
from metrics.client.pricing.table import (
    DEFAULT_PRICES_FILE,
    PriceEntry,
    PriceTable,
    PriceTableError,
)

__all__ = [
    "DEFAULT_PRICES_FILE",
    "CostBreakdown",
    "PriceEntry",
    "PriceTable",
    "PriceTableError",
    "Priced",
    "TokenUsage",
    "Unpriced",
    "UsageTokens",
    "default_table",
    "format_usd",
    "price",
]


@functools.cache
def default_table() -> PriceTable:
    """The table shipped with the code (loaded and validated once per process)."""
    return PriceTable.load(DEFAULT_PRICES_FILE)


def price(
    model: str,
    usage: TokenUsage,
    at: dt.datetime | None = None,
    *,
    provider: str | None = None,
    table: PriceTable | None = None,
) -> Priced | Unpriced:
    """Exact cost of `usage` on `model` at time `at` (default now, UTC).

    `model` is `provider/model` (split at the first `/`, so
    `groq/openai/gpt-oss-120b` works) unless `provider` is given.
    Pure: no I/O after the table is loaded, never raises for unknown models.
    """
    if provider is None:
        provider, _, model = model.partition("/")
    when = at if at is not None else dt.datetime.now(dt.UTC)
    return compute(table or default_table(), provider, model, usage, when)
