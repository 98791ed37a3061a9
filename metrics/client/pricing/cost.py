"""Exact cost of one request's token usage, from a price table.

Token conventions (OpenAI's, which the unified format and the provider adapters
use): `prompt_tokens` includes `cached_tokens` (cache reads) and
`cache_creation_tokens` (cache writes); `completion_tokens` includes
`reasoning_tokens`. So, per 1M tokens:

    input       = (prompt - cached - cache_creation) * rates.input
    cached      = cached          * (rates.cached_input or rates.input)
    cache_write = cache_creation  * (rates.cache_write  or rates.input)
    output      = (completion - reasoning) * rates.output     if reasoning is billed apart
                  completion                * rates.output     otherwise
    reasoning   = reasoning * rates.reasoning                  if billed apart, else 0

All arithmetic is `Decimal` in a context wide enough to be exact; prices have
at most 6 decimals per 1M tokens, so costs are exact multiples of 1e-12 USD.
"""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from metrics.client.pricing.table import PriceEntry, PriceTable, Rates

__all__ = [
    "CostBreakdown",
    "Priced",
    "TokenUsage",
    "Unpriced",
    "UsageTokens",
    "compute",
    "format_usd",
]

_PER = Decimal(1_000_000)
# 40 significant digits: token counts < 2**63 times prices < 1e9 with 6 decimals.
_EXACT = decimal.Context(prec=40, rounding=decimal.ROUND_HALF_EVEN, traps=[decimal.Inexact])


class TokenUsage(Protocol):
    """Anything carrying the five token counts (the adapters' `Usage`, the proto `Usage`)."""

    @property
    def prompt_tokens(self) -> int: ...
    @property
    def completion_tokens(self) -> int: ...
    @property
    def cached_tokens(self) -> int: ...
    @property
    def cache_creation_tokens(self) -> int: ...
    @property
    def reasoning_tokens(self) -> int: ...


@dataclass(frozen=True, slots=True)
class UsageTokens:
    """A plain `TokenUsage`."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_creation_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    input: Decimal
    cached: Decimal
    cache_write: Decimal
    output: Decimal
    reasoning: Decimal

    @property
    def total(self) -> Decimal:
        return _EXACT.add(
            _EXACT.add(
                _EXACT.add(self.input, self.cached), _EXACT.add(self.cache_write, self.output)
            ),
            self.reasoning,
        )


@dataclass(frozen=True, slots=True)
class Priced:
    """A request's exact cost and the price it came from (None when no tokens)."""

    cost_usd: Decimal
    breakdown: CostBreakdown
    entry: PriceEntry | None
    table_version: str

    @property
    def cost_str(self) -> str:
        """The cost as the exact decimal string `UsageEvent.cost_usd` carries."""
        return format_usd(self.cost_usd)


@dataclass(frozen=True, slots=True)
class Unpriced:
    """No price applies: report the request as unpriced, never as $0."""

    reason: str
    table_version: str


def format_usd(value: Decimal) -> str:
    """Plain notation, no exponent, no trailing zeros: `0.0000125`, `3`, `0`."""
    if value == 0:
        return "0"
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def compute(
    table: PriceTable, provider: str, model: str, usage: TokenUsage, at: dt.datetime
) -> Priced | Unpriced:
    """Price one request's usage at time `at` with `table`."""
    problem = _inconsistent(usage)
    if problem:
        return Unpriced(reason=f"inconsistent usage: {problem}", table_version=table.version)
    zero = Decimal(0)
    if usage.prompt_tokens == 0 and usage.completion_tokens == 0:
        nothing = CostBreakdown(zero, zero, zero, zero, zero)
        return Priced(zero, nothing, None, table.version)
    entry = table.lookup(provider, model, at)
    if entry is None:
        known = table.candidates(provider, model)
        reason = (
            f"no price for {provider}/{model} effective on {at.date().isoformat()}"
            if known
            else f"no price for {provider}/{model}"
        )
        return Unpriced(reason=reason, table_version=table.version)
    breakdown = _breakdown(entry.rates_for(usage.prompt_tokens), usage)
    return Priced(breakdown.total, breakdown, entry, table.version)


def _inconsistent(usage: TokenUsage) -> str:
    counts = (
        usage.prompt_tokens,
        usage.completion_tokens,
        usage.cached_tokens,
        usage.cache_creation_tokens,
        usage.reasoning_tokens,
    )
    if any(n < 0 for n in counts):
        return "negative token count"
    if usage.cached_tokens + usage.cache_creation_tokens > usage.prompt_tokens:
        return "cached + cache_creation tokens exceed prompt_tokens"
    if usage.reasoning_tokens > usage.completion_tokens:
        return "reasoning tokens exceed completion_tokens"
    return ""


def _breakdown(rates: Rates, usage: TokenUsage) -> CostBreakdown:
    fresh = usage.prompt_tokens - usage.cached_tokens - usage.cache_creation_tokens
    cached_rate = rates.input if rates.cached_input is None else rates.cached_input
    write_rate = rates.input if rates.cache_write is None else rates.cache_write
    if rates.reasoning is None:
        output = _cost(usage.completion_tokens, rates.output)
        reasoning = Decimal(0)
    else:
        output = _cost(usage.completion_tokens - usage.reasoning_tokens, rates.output)
        reasoning = _cost(usage.reasoning_tokens, rates.reasoning)
    return CostBreakdown(
        input=_cost(fresh, rates.input),
        cached=_cost(usage.cached_tokens, cached_rate),
        cache_write=_cost(usage.cache_creation_tokens, write_rate),
        output=output,
        reasoning=reasoning,
    )


def _cost(tokens: int, per_million: Decimal) -> Decimal:
    return _EXACT.divide(_EXACT.multiply(Decimal(tokens), per_million), _PER)
