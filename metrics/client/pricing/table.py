"""The versioned price table: loaded from a TOML data file and validated once.

Prices are `Decimal`s per 1,000,000 tokens with at most 6 decimal places, so
every computed cost is an exact multiple of 1e-12 USD (see `metrics.client.pricing.cost`).
"""

from __future__ import annotations

import datetime as dt
import pathlib
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = [
    "DEFAULT_PRICES_FILE",
    "PriceEntry",
    "PriceTable",
    "PriceTableError",
    "Rates",
]

DEFAULT_PRICES_FILE = pathlib.Path(__file__).with_name("prices.toml")
MAX_DECIMALS = 6
WILDCARD = "*"
# Dated snapshots and moving aliases bill like their base id:
# gpt-4o-2024-08-06, claude-sonnet-4-20250514, claude-3-5-haiku-latest.
_SNAPSHOT_SUFFIX = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|latest)$")
_RATE_FIELDS = ("input", "output", "cached_input", "cache_write", "reasoning")


class PriceTableError(ValueError):
    """The price data file is malformed; the message names the entry and field."""


@dataclass(frozen=True, slots=True)
class Rates:
    """USD per 1M tokens. None: not billed apart (cached/cache-write fall back
    to `input`, reasoning to `output`)."""

    input: Decimal
    output: Decimal
    cached_input: Decimal | None = None
    cache_write: Decimal | None = None
    reasoning: Decimal | None = None


@dataclass(frozen=True, slots=True)
class PriceEntry:
    provider: str
    model: str
    effective: dt.date
    rates: Rates
    source: str
    checked: str
    aliases: tuple[str, ...] = ()
    long_context_above: int | None = None
    long_context: Rates | None = None

    @property
    def price_id(self) -> str:
        """Stable id of this price: `provider/model@effective`."""
        return f"{self.provider}/{self.model}@{self.effective.isoformat()}"

    def rates_for(self, prompt_tokens: int) -> Rates:
        above = self.long_context_above
        if self.long_context is not None and above is not None and prompt_tokens > above:
            return self.long_context
        return self.rates


class PriceTable:
    """All entries, indexed by (provider, model id or alias), newest first."""

    def __init__(self, version: str, entries: Sequence[PriceEntry]) -> None:
        self.version = version
        self.entries = tuple(entries)
        index: dict[tuple[str, str], list[PriceEntry]] = {}
        for entry in self.entries:
            for name in (entry.model, *entry.aliases):
                index.setdefault((entry.provider, name), []).append(entry)
        for (provider, name), found in index.items():
            found.sort(key=lambda e: e.effective, reverse=True)
            dates = [e.effective for e in found]
            if len(set(dates)) != len(dates):
                raise PriceTableError(f"{provider}/{name}: two prices share an effective date")
        self._index = {key: tuple(found) for key, found in index.items()}

    @classmethod
    def load(cls, path: pathlib.Path = DEFAULT_PRICES_FILE) -> PriceTable:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
        return cls.from_mapping(data)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> PriceTable:
        version = data.get("version")
        if not isinstance(version, str) or not version:
            raise PriceTableError("the price table needs a `version` string")
        if data.get("currency", "USD") != "USD":
            raise PriceTableError("only USD prices are supported")
        raw = data.get("price", [])
        if not isinstance(raw, list):
            raise PriceTableError("`price` must be an array of tables")
        return cls(version, [_entry(item, n) for n, item in enumerate(raw)])

    def candidates(self, provider: str, model: str) -> tuple[PriceEntry, ...]:
        """Entries for a model, newest first: exact id, then its base id, then `*`."""
        for name in _names(model):
            found = self._index.get((provider, name))
            if found:
                return found
        return self._index.get((provider, WILDCARD), ())

    def lookup(self, provider: str, model: str, at: dt.datetime) -> PriceEntry | None:
        """The entry in force at `at` (UTC), or None."""
        day = at.astimezone(dt.UTC).date() if at.tzinfo else at.date()
        for entry in self.candidates(provider, model):
            if entry.effective <= day:
                return entry
        return None


def _names(model: str) -> tuple[str, ...]:
    base = _SNAPSHOT_SUFFIX.sub("", model)
    return (model,) if base == model else (model, base)


def _entry(item: Any, n: int) -> PriceEntry:
    if not isinstance(item, dict):
        raise PriceTableError(f"price #{n} must be a table")
    where = f"price #{n} ({item.get('provider')}/{item.get('model')})"
    for field in ("provider", "model", "source", "checked"):
        if not isinstance(item.get(field), str) or not item[field]:
            raise PriceTableError(f"{where}: `{field}` must be a non-empty string")
    effective = item.get("effective")
    if not isinstance(effective, dt.date) or isinstance(effective, dt.datetime):
        raise PriceTableError(f"{where}: `effective` must be a TOML date (YYYY-MM-DD)")
    aliases = item.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise PriceTableError(f"{where}: `aliases` must be a list of strings")
    above, long_rates = _long_context(item.get("long_context"), where)
    return PriceEntry(
        provider=item["provider"],
        model=item["model"],
        effective=effective,
        rates=_rates(item, where),
        source=item["source"],
        checked=item["checked"],
        aliases=tuple(aliases),
        long_context_above=above,
        long_context=long_rates,
    )


def _long_context(raw: Any, where: str) -> tuple[int | None, Rates | None]:
    if raw is None:
        return None, None
    if not isinstance(raw, dict):
        raise PriceTableError(f"{where}: `long_context` must be a table")
    above = raw.get("above_prompt_tokens")
    if not isinstance(above, int) or above <= 0:
        raise PriceTableError(f"{where}: long_context.above_prompt_tokens must be positive")
    return above, _rates(raw, f"{where} long_context")


def _rates(item: Mapping[str, Any], where: str) -> Rates:
    values = {field: _decimal(item.get(field), f"{where}: `{field}`") for field in _RATE_FIELDS}
    unknown = set(item) - {*_RATE_FIELDS, "above_prompt_tokens"} - _ENTRY_FIELDS
    if unknown:
        raise PriceTableError(f"{where}: unknown fields {sorted(unknown)}")
    inp, out = values.pop("input"), values.pop("output")
    if inp is None or out is None:
        raise PriceTableError(f"{where}: `input` and `output` are required")
    return Rates(input=inp, output=out, **values)


_ENTRY_FIELDS = {"provider", "model", "aliases", "effective", "source", "checked", "long_context"}


def _decimal(raw: Any, where: str) -> Decimal | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise PriceTableError(f'{where} must be a decimal string such as "2.50" (not a float)')
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise PriceTableError(f"{where}: {raw!r} is not a decimal") from None
    exponent = value.as_tuple().exponent
    if not value.is_finite() or value < 0:
        raise PriceTableError(f"{where}: {raw!r} must be a finite, non-negative price")
    if isinstance(exponent, int) and -exponent > MAX_DECIMALS:
        raise PriceTableError(f"{where}: {raw!r} has more than {MAX_DECIMALS} decimal places")
    return value
