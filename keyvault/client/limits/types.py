"""The limiter's API: reserve at admission, settle with true usage, release on failure."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

import grpc
from agentopia.v1 import client_key_service_pb2 as kv_pb2

from keyvault.client.limits.periods import BudgetPeriod
from keyvault.client.money import format_usd, parse_usd
from services.kernel.errors import GatewayError

__all__ = [
    "KeyUsage",
    "Limiter",
    "Limits",
    "Reservation",
    "limit_exceeded",
    "limits_unavailable",
]

_PERIOD_OF_PROTO = {
    kv_pb2.BUDGET_PERIOD_DAILY: BudgetPeriod.DAILY,
    kv_pb2.BUDGET_PERIOD_WEEKLY: BudgetPeriod.WEEKLY,
    kv_pb2.BUDGET_PERIOD_MONTHLY: BudgetPeriod.MONTHLY,
    kv_pb2.BUDGET_PERIOD_TOTAL: BudgetPeriod.TOTAL,
}
MAX_AMOUNT = 10**12  # per request: tokens, or micro-USD (one million dollars)


@dataclass(frozen=True, slots=True)
class Limits:
    """A client key's limits; 0 / None = unlimited. `period` also scopes usage counters."""

    rpm: int = 0
    tpm: int = 0
    budget_micros: int | None = None
    period: BudgetPeriod = BudgetPeriod.MONTHLY

    @classmethod
    def of(cls, key: kv_pb2.ClientKey) -> Limits:
        """The limits of a key as WatchClientKeys delivers it."""
        return cls(
            rpm=key.rpm_limit,
            tpm=key.tpm_limit,
            budget_micros=parse_usd(key.budget_usd) if key.budget_usd else None,
            period=_PERIOD_OF_PROTO.get(key.budget_period, BudgetPeriod.MONTHLY),
        )


@dataclass(frozen=True, slots=True)
class Reservation:
    """An admitted request's hold on the key's limits; settle or release it exactly once
    (both are idempotent; an abandoned reservation is settled at its estimate after the
    limiter's reservation TTL)."""

    key_id: str
    reservation_id: str
    tokens: int
    cost_micros: int
    period: BudgetPeriod


@dataclass(frozen=True, slots=True)
class KeyUsage:
    requests_in_window: int
    tokens_in_window: int
    in_flight: int
    spent_micros: int
    reserved_micros: int
    requests_in_period: int
    tokens_in_period: int
    period_start: dt.datetime | None


class Limiter(Protocol):
    async def reserve(
        self, key_id: str, limits: Limits, *, tokens: int, cost_micros: int
    ) -> Reservation:
        """Admit one request holding `tokens` and `cost_micros` (upper estimates), or
        raise a 429 GatewayError naming the limit, with retry_after_s when retrying can help."""
        ...

    async def settle(self, reservation: Reservation, *, tokens: int, cost_micros: int) -> None:
        """Replace the estimate with the true usage (which may exceed it)."""
        ...

    async def release(self, reservation: Reservation) -> None:
        """The request failed before using anything: give back its slot, tokens and cost."""
        ...

    async def usage(self, key_id: str, limits: Limits) -> KeyUsage: ...

    async def aclose(self) -> None: ...


def check_amounts(tokens: int, cost_micros: int) -> None:
    if not (0 <= tokens <= MAX_AMOUNT and 0 <= cost_micros <= MAX_AMOUNT):
        raise ValueError("tokens and cost_micros must be between 0 and 10**12")


def limit_exceeded(
    limit: str, limits: Limits, retry_after_ms: int, *, tokens: int, used: int
) -> GatewayError:
    """The 429 a rejected request gets: code and message name the limit."""
    retry = None if retry_after_ms < 0 else max(retry_after_ms, 1) / 1000
    when = f" Retry after {max(1, round(retry))} s." if retry is not None else ""
    if limit == "rpm":
        code, value = "rate_limit_exceeded", str(limits.rpm)
        message = f"Rate limit reached for this API key: {limits.rpm} requests per minute.{when}"
    elif limit == "tpm" and retry is None:
        code, value = "request_too_large", str(limits.tpm)
        message = (
            f"This request may use up to {tokens} tokens, more than this API key's limit of "
            f"{limits.tpm} tokens per minute; lower max_tokens or shorten the prompt."
        )
    elif limit == "tpm":
        code, value = "token_rate_limit_exceeded", str(limits.tpm)
        message = (
            f"Token rate limit reached for this API key: {limits.tpm} tokens per minute "
            f"({used} in use, this request may use up to {tokens}).{when}"
        )
    else:
        budget = format_usd(limits.budget_micros or 0)
        code, value = "budget_exceeded", budget
        per = "in total" if limits.period is BudgetPeriod.TOTAL else f"per {_unit(limits.period)}"
        message = (
            f"Budget reached for this API key: ${budget} {per} (${format_usd(used)} spent)."
            f"{when or ' Ask an admin to raise the budget.'}"
        )
    return GatewayError(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        code,
        message,
        retry_after_s=retry,
        metadata={"limit": limit, "limit_value": value},
    )


def limits_unavailable() -> GatewayError:
    """The shared limits store cannot be reached: fail closed (a router may choose to
    admit instead by catching this; the bound then no longer holds)."""
    return GatewayError(
        grpc.StatusCode.UNAVAILABLE,
        "limits_unavailable",
        "The gateway cannot check this key's limits right now; retry shortly.",
        retryable=True,
        retry_after_s=1.0,
    )


def _unit(period: BudgetPeriod) -> str:
    return {BudgetPeriod.DAILY: "day", BudgetPeriod.WEEKLY: "week"}.get(period, "month")
