"""The single-process limiter (embedded default, no Redis): the same rules as
limiter.lua, exact within one process — N replicas using it admit up to N x the limit."""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from keyvault.client.limits.periods import BudgetPeriod, period_bounds
from keyvault.client.limits.types import (
    KeyUsage,
    Limits,
    Reservation,
    check_amounts,
    limit_exceeded,
)

__all__ = ["MemoryLimiter"]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class _Key:
    window: OrderedDict[str, tuple[int, int]] = field(default_factory=OrderedDict)  # rid->(t, tok)
    tokens: int = 0
    pending: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # rid->(tok, cost, dl)
    pid: str = ""
    pstart: int = 0
    spent: int = 0
    reserved: int = 0
    preq: int = 0
    ptok: int = 0


class MemoryLimiter:
    def __init__(
        self,
        *,
        window_s: float = 60.0,
        reservation_ttl_s: float = 600.0,
        clock_ms: Callable[[], int] = _now_ms,
    ) -> None:
        self._window_ms = int(window_s * 1000)
        self._ttl_ms = int(reservation_ttl_s * 1000)
        self._clock = clock_ms
        self._keys: dict[str, _Key] = {}

    def _prepare(self, key_id: str, period: BudgetPeriod, now: int) -> _Key:
        state = self._keys.setdefault(key_id, _Key())
        pid, pstart, _ = period_bounds(period, now)
        if state.pid != pid:
            state.pid, state.pstart, state.spent, state.preq, state.ptok = pid, pstart, 0, 0, 0
        for rid in [r for r, (_, _, deadline) in state.pending.items() if deadline <= now]:
            self._settle(state, rid, None)
        cut = now - self._window_ms
        while state.window:
            rid, (admitted, tokens) = next(iter(state.window.items()))
            if admitted > cut:
                break
            del state.window[rid]
            state.tokens -= tokens
        return state

    def _settle(self, state: _Key, rid: str, actual: tuple[int, int] | None) -> None:
        pending = state.pending.pop(rid, None)
        if pending is None:
            return
        tokens, cost = actual or pending[:2]
        state.reserved -= pending[1]
        state.spent += cost
        state.preq += 1
        state.ptok += tokens
        if rid in state.window:
            admitted, counted = state.window[rid]
            state.window[rid] = (admitted, tokens)
            state.tokens += tokens - counted

    async def reserve(
        self, key_id: str, limits: Limits, *, tokens: int, cost_micros: int
    ) -> Reservation:
        check_amounts(tokens, cost_micros)
        now = self._clock()
        state = self._prepare(key_id, limits.period, now)
        if limits.rpm and len(state.window) >= limits.rpm:
            oldest = next(iter(state.window.values()))[0]
            raise limit_exceeded(
                "rpm", limits, oldest + self._window_ms - now, tokens=tokens, used=len(state.window)
            )
        if limits.tpm and state.tokens + tokens > limits.tpm:
            retry = -1 if tokens > limits.tpm else self._tokens_free_in(state, tokens, limits, now)
            raise limit_exceeded("tpm", limits, retry, tokens=tokens, used=state.tokens)
        budget = limits.budget_micros
        if budget is not None and state.spent + state.reserved + cost_micros > budget:
            _, _, end = period_bounds(limits.period, now)
            retry = 1000 if state.spent + cost_micros <= budget else (end - now if end else -1)
            raise limit_exceeded("budget", limits, retry, tokens=tokens, used=state.spent)
        rid = secrets.token_hex(8)
        state.window[rid] = (now, tokens)
        state.tokens += tokens
        state.pending[rid] = (tokens, cost_micros, now + self._ttl_ms)
        state.reserved += cost_micros
        return Reservation(key_id, rid, tokens, cost_micros, limits.period)

    def _tokens_free_in(self, state: _Key, tokens: int, limits: Limits, now: int) -> int:
        need, freed = state.tokens + tokens - limits.tpm, 0
        for admitted, counted in state.window.values():
            freed += counted
            if freed >= need:
                return admitted + self._window_ms - now
        return self._window_ms

    async def settle(self, reservation: Reservation, *, tokens: int, cost_micros: int) -> None:
        check_amounts(tokens, cost_micros)
        state = self._prepare(reservation.key_id, reservation.period, self._clock())
        self._settle(state, reservation.reservation_id, (tokens, cost_micros))

    async def release(self, reservation: Reservation) -> None:
        state = self._prepare(reservation.key_id, reservation.period, self._clock())
        pending = state.pending.pop(reservation.reservation_id, None)
        if pending is None:
            return
        state.reserved -= pending[1]
        counted = state.window.pop(reservation.reservation_id, None)
        if counted is not None:
            state.tokens -= counted[1]

    async def usage(self, key_id: str, limits: Limits) -> KeyUsage:
        state = self._prepare(key_id, limits.period, self._clock())
        start = None
        if limits.period is not BudgetPeriod.TOTAL:
            start = dt.datetime.fromtimestamp(state.pstart / 1000, dt.UTC)
        return KeyUsage(
            len(state.window),
            state.tokens,
            len(state.pending),
            state.spent,
            state.reserved,
            state.preq,
            state.ptok,
            start,
        )

    async def aclose(self) -> None:
        self._keys.clear()
