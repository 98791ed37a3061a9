"""From `UsageEvent` messages to table rows: validation, pricing of unpriced
events, and the rollup deltas of a batch."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from agentopia.v1 import metrics_service_pb2 as pb

from metrics.client import pricing
from metrics.storage.schema import ROLLUP_KEYS, ROLLUP_SUMS

__all__ = ["PUSD_PER_USD", "Batch", "parse_events", "pusd_to_usd", "rollup_deltas"]

PUSD_PER_USD = Decimal(10) ** 12
_PUSD_QUANTUM = Decimal(1).scaleb(-12)
_MAX_ID = 128
Row = dict[str, Any]


@dataclass
class Batch:
    """Rows ready to insert (first occurrence of each event_id) and rejects."""

    rows: list[Row] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)


def pusd_to_usd(pusd: int) -> Decimal:
    return Decimal(pusd).scaleb(-12)


def parse_events(
    events: Iterable[pb.UsageEvent],
    now: dt.datetime,
    table: pricing.PriceTable,
    *,
    trust_cost: bool = True,
) -> Batch:
    """Rows to store. Without `trust_cost` (a sender that proved no router identity)
    every event's cost comes from `table`, whatever `cost_usd` it claims."""
    batch = Batch()
    seen: set[str] = set()
    received_us = _micros(now)
    for event in events:
        row = _row(event, received_us, table, trust_cost)
        if row is None:
            batch.rejected.append(event.event_id)
        elif row["event_id"] not in seen:
            seen.add(row["event_id"])
            batch.rows.append(row)
    return batch


def _micros(moment: dt.datetime) -> int:
    delta = moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _row(
    event: pb.UsageEvent, received_us: int, table: pricing.PriceTable, trust_cost: bool
) -> Row | None:
    tokens = (
        event.prompt_tokens,
        event.completion_tokens,
        event.cached_tokens,
        event.cache_creation_tokens,
        event.reasoning_tokens,
    )
    if not event.event_id or len(event.event_id) > _MAX_ID or min(tokens) < 0:
        return None
    has_time = event.HasField("time") and (event.time.seconds or event.time.nanos)
    time_us = event.time.seconds * 1_000_000 + event.time.nanos // 1000 if has_time else received_us
    try:
        cost = _cost_pusd(event, time_us, table, trust_cost)
    except ValueError:
        return None
    seconds = time_us // 1_000_000
    return {
        "event_id": event.event_id,
        "request_id": event.request_id,
        "time_us": time_us,
        "minute": seconds - seconds % 60,
        "received_us": received_us,
        "key_id": event.key_id,
        "team": event.team,
        "requested_model": event.requested_model,
        "model": event.model,
        "provider": event.provider,
        "deployment_id": event.deployment_id,
        "operation": event.operation,
        "stream": event.stream,
        "prompt_tokens": event.prompt_tokens,
        "completion_tokens": event.completion_tokens,
        "cached_tokens": event.cached_tokens,
        "cache_creation_tokens": event.cache_creation_tokens,
        "reasoning_tokens": event.reasoning_tokens,
        "cost_pusd": cost,
        "latency_ms": max(event.latency_ms, 0.0),
        "ttft_ms": max(event.time_to_first_token_ms, 0.0),
        "upstream_ms": max(event.upstream_latency_ms, 0.0),
        "overhead_ms": max(event.overhead_ms, 0.0),
        "status_code": event.status_code,
        "error_code": event.error_code,
        "is_error": event.status_code >= 400 or bool(event.error_code),
        "retries": max(event.retries, 0),
        "failovers": max(event.failovers, 0),
        "surface": event.surface[:32],
    }


def _cost_pusd(
    event: pb.UsageEvent, time_us: int, table: pricing.PriceTable, trust_cost: bool
) -> int | None:
    """Pico-dollars; None when unpriced. A sender's cost with more than 12
    decimals is rounded half-even to 1e-12 USD (prices never produce one)."""
    if not event.cost_usd or not trust_cost:
        at = dt.datetime.fromtimestamp(time_us / 1_000_000, dt.UTC)
        result = pricing.price(event.model, event, at, provider=event.provider, table=table)
        return _to_pusd(result.cost_usd) if isinstance(result, pricing.Priced) else None
    try:
        value = Decimal(event.cost_usd)
    except decimal.InvalidOperation:
        raise ValueError(f"cost_usd {event.cost_usd!r} is not a decimal") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"cost_usd {event.cost_usd!r} must be finite and non-negative")
    return _to_pusd(value)


def _to_pusd(value: Decimal) -> int:
    context = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_EVEN)
    return int(value.quantize(_PUSD_QUANTUM, context=context) * PUSD_PER_USD)


def rollup_deltas(rows: Sequence[Row]) -> list[Row]:
    """Per-minute sums of `rows`, sorted by key so concurrent upserts lock in order."""
    sums: dict[tuple[Any, ...], Row] = {}
    for row in rows:
        key = tuple(row[name] for name in ROLLUP_KEYS)
        acc = sums.get(key)
        if acc is None:
            acc = dict(zip(ROLLUP_KEYS, key, strict=True)) | dict.fromkeys(ROLLUP_SUMS, 0)
            sums[key] = acc
        acc["requests"] += 1
        acc["errors"] += int(row["is_error"])
        acc["unpriced_requests"] += int(row["cost_pusd"] is None)
        acc["streamed_requests"] += int(row["stream"])
        acc["cost_pusd"] += row["cost_pusd"] or 0
        for name in (
            "prompt_tokens",
            "completion_tokens",
            "cached_tokens",
            "cache_creation_tokens",
            "reasoning_tokens",
            "retries",
            "failovers",
        ):
            acc[name] += row[name]
    return [sums[key] for key in sorted(sums)]
