"""What models cost, read from the one price table (`metrics.client.pricing`).

The registry holds no prices of its own: a model is priced by what its
provider bills for its upstream id, exactly as its usage is billed, so a
budget reservation, an `auto` price cap and an invoice all read one fact.
A model the table does not price is *unpriced* — never treated as free: it
ranks last by cost, fails every stated price cap, and cannot be reserved
against a budget.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from metrics.client.pricing import PriceTable

__all__ = ["Pricing", "estimate_usd", "list_price"]


@dataclass(frozen=True, slots=True)
class Pricing:
    """A model's base rates, USD per million tokens; None where unpriced."""

    input: float | None = None
    output: float | None = None
    cached_input: float | None = None
    source: str = ""

    @property
    def known(self) -> bool:
        return self.input is not None and self.output is not None

    def estimate_usd(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        """A ranking estimate at the base rates (admission uses `estimate_usd` below)."""
        if self.input is None or self.output is None:
            return None
        return (prompt_tokens * self.input + completion_tokens * self.output) / 1_000_000


def list_price(
    table: PriceTable, provider: str, upstream_id: str, *, at: dt.datetime | None = None
) -> Pricing:
    """The rates in force at `at` (default now) for `upstream_id` at `provider`."""
    when = at or dt.datetime.now(dt.UTC)
    entry = table.lookup(provider, upstream_id, when)
    if entry is None:
        return Pricing(source=f"unpriced: no price for {provider}/{upstream_id} in the price table")
    rates = entry.rates
    return Pricing(
        input=float(rates.input),
        output=float(rates.output),
        cached_input=None if rates.cached_input is None else float(rates.cached_input),
        source=entry.source,
    )


def estimate_usd(
    table: PriceTable,
    routes: Iterable[tuple[str, str]],
    prompt_tokens: int,
    completion_tokens: int,
    *,
    at: dt.datetime | None = None,
) -> Decimal | None:
    """The most a request of this size can cost on any of `routes` ((provider,
    upstream id) pairs, e.g. a model's deployments), priced as billing prices it
    (the same rates, the long-context rates above their threshold, exact decimal
    arithmetic) with every prompt token at the dearest rate a prompt token can be
    billed (a cache write may cost more than fresh input) and every completion
    token at the dearest output rate (reasoning, where billed apart); None when any
    route is unpriced (its spend cannot be bounded). Computed from the rates
    directly: the admission path runs it for every candidate of every request."""
    when = at or dt.datetime.now(dt.UTC)
    prompt, completion = Decimal(prompt_tokens), Decimal(completion_tokens)
    highest: Decimal | None = None
    for provider, upstream_id in routes:
        entry = table.lookup(provider, upstream_id, when)
        if entry is None:
            return None
        rates = entry.rates_for(prompt_tokens)
        prompt_rate = max(rates.input, rates.cache_write or rates.input)
        output_rate = max(rates.output, rates.reasoning or rates.output)
        tokens_cost = _EXACT.add(
            _EXACT.multiply(prompt, prompt_rate), _EXACT.multiply(completion, output_rate)
        )
        cost = _EXACT.divide(tokens_cost, _PER_MILLION)
        highest = cost if highest is None or cost > highest else highest
    return highest


# Wide enough that token counts times per-million rates never round.
_EXACT = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_EVEN, traps=[decimal.Inexact])
_PER_MILLION = Decimal(1_000_000)
