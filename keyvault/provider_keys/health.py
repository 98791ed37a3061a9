"""What happens to a provider key after it is used: the provider service reports each
outcome; 401/403 disable and flag the key, 429 cools it down until Retry-After, rate-limit
headers update its headroom; traffic is counted per key and hour. A sweeper ends
cool-downs and retires keys whose rotation overlap has passed."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from keyvault import errors
from keyvault.actors import SYSTEM_ACTOR, Actor
from keyvault.audit import log as audit
from keyvault.provider_keys.records import Headroom, ProviderKeyState
from keyvault.storage import versions
from keyvault.storage.database import Database
from keyvault.storage.models import ProviderKeyRow, ProviderKeyUsageRow
from keyvault.times import utcnow

__all__ = ["KeyHealth", "Outcome", "UsageRow"]

_log = logging.getLogger(__name__)

DEFAULT_COOLDOWN = dt.timedelta(seconds=30)
MAX_COOLDOWN = dt.timedelta(hours=1)
_USABLE = (ProviderKeyState.ACTIVE.value, ProviderKeyState.COOLING_DOWN.value)


@dataclass(frozen=True, slots=True)
class Outcome:
    key_id: str
    status: int
    time: dt.datetime
    retry_after: dt.timedelta | None = None
    headroom: Headroom | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_micros: int = 0


@dataclass(frozen=True, slots=True)
class UsageRow:
    bucket_start: dt.datetime | None
    requests: int = 0
    errors: int = 0
    rate_limited: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_micros: int = 0


def _upsert_of(session: Session) -> Any:
    """The dialect's INSERT, which has ON CONFLICT; SQLAlchemy's PostgreSQL module
    (about 5 MiB resident) is imported only by a key vault on PostgreSQL."""
    if session.get_bind().dialect.name == "sqlite":
        return sqlite.insert
    from sqlalchemy.dialects import postgresql  # noqa: PLC0415

    return postgresql.insert


def _seconds_until_due(connection: Connection) -> float | None:
    """Seconds until the next cool-down ends or rotation overlap passes (None: none is
    scheduled; zero or less: one is due now), the moments `sweep` acts on."""
    cooling = select(func.min(ProviderKeyRow.cooldown_until)).where(
        ProviderKeyRow.state == ProviderKeyState.COOLING_DOWN.value
    )
    retiring = select(func.min(ProviderKeyRow.retire_time)).where(
        ProviderKeyRow.state != ProviderKeyState.RETIRED.value
    )
    row = connection.execute(select(cooling.scalar_subquery(), retiring.scalar_subquery())).one()
    moments = [moment for moment in row if moment is not None]
    if not moments:
        return None
    return float((min(moments) - utcnow()).total_seconds())


def _hour(moment: dt.datetime) -> dt.datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


class KeyHealth:
    def __init__(self, db: Database, on_change: Callable[[], Awaitable[None]]) -> None:
        self._db = db
        self._on_change = on_change

    async def apply(self, actor: Actor, outcomes: Sequence[Outcome]) -> int:
        """Apply a batch; returns how many named a known key."""

        def work(session: Session) -> tuple[int, bool]:
            accepted, changed = 0, False
            for outcome in outcomes:
                row = session.get(ProviderKeyRow, outcome.key_id)
                if row is None:
                    continue
                accepted += 1
                changed |= self._apply_one(session, actor, row, outcome)
                self._count(session, outcome)
            if changed:
                versions.bump(session, versions.PROVIDER_KEYS)
            return accepted, changed

        accepted, changed = await self._db.write(work)
        if changed:
            await self._on_change()
        return accepted

    def _apply_one(self, session: Session, actor: Actor, row: ProviderKeyRow, o: Outcome) -> bool:
        if row.last_outcome_time is None or o.time >= row.last_outcome_time:
            row.last_status, row.last_outcome_time = o.status, o.time
        if o.headroom is not None:
            self._store_headroom(row, o.headroom, o.time)
        if row.state not in _USABLE:
            return False
        if o.status in (401, 403):
            row.state, row.flagged = ProviderKeyState.DISABLED.value, True
            row.flag_reason = (
                f"the provider answered {o.status}: the key is invalid or lacks access"
            )
            row.update_time = utcnow()
            audit.record(session, actor, "provider_key.auto_disable", row.id, {"status": o.status})
            return True
        if o.status == 429:
            pause = min(o.retry_after or DEFAULT_COOLDOWN, MAX_COOLDOWN)
            until = o.time + pause
            if row.cooldown_until is not None and row.cooldown_until >= until:
                return False
            entering = row.state != ProviderKeyState.COOLING_DOWN.value
            row.state, row.cooldown_until, row.update_time = (
                ProviderKeyState.COOLING_DOWN.value,
                until,
                utcnow(),
            )
            if entering:
                details = {"until": until.isoformat(), "retry_after_s": pause.total_seconds()}
                audit.record(session, actor, "provider_key.cool_down", row.id, details)
            return True
        return False

    @staticmethod
    def _store_headroom(row: ProviderKeyRow, headroom: Headroom, observed: dt.datetime) -> None:
        if row.headroom_observe_time is not None and row.headroom_observe_time > observed:
            return
        row.limit_requests, row.remaining_requests = (
            headroom.limit_requests,
            headroom.remaining_requests,
        )
        row.limit_tokens, row.remaining_tokens = headroom.limit_tokens, headroom.remaining_tokens
        row.headroom_reset_time = headroom.reset_time
        row.headroom_observe_time = headroom.observe_time or observed

    @staticmethod
    def _count(session: Session, o: Outcome) -> None:
        values = {
            "key_id": o.key_id,
            "bucket_start": _hour(o.time),
            "requests": 1,
            "errors": 0 if 200 <= o.status < 300 else 1,
            "rate_limited": 1 if o.status == 429 else 0,
            "prompt_tokens": o.prompt_tokens,
            "completion_tokens": o.completion_tokens,
            "cost_micros": o.cost_micros,
        }
        table = ProviderKeyUsageRow.__table__
        stmt = _upsert_of(session)(table).values(**values)
        counters = ("requests", "errors", "rate_limited", "prompt_tokens", "completion_tokens")
        stmt = stmt.on_conflict_do_update(
            index_elements=["key_id", "bucket_start"],
            set_={c: table.c[c] + stmt.excluded[c] for c in (*counters, "cost_micros")},
        )
        session.execute(stmt)

    async def record_validation(self, actor: Actor, key_id: str, result: str, status: int) -> None:
        """Store a validation's result; an invalid key is disabled and flagged."""

        def work(session: Session) -> bool:
            row = session.get(ProviderKeyRow, key_id)
            if row is None:
                raise errors.not_found("provider_key", key_id)
            row.last_validate_time, row.last_validate_result = utcnow(), result
            changed = False
            if result == "invalid" and row.state in _USABLE:
                row.state, row.flagged = ProviderKeyState.DISABLED.value, True
                row.flag_reason = f"validation failed: the provider answered {status}"
                changed = True
            audit.record(session, actor, "provider_key.validate", key_id, {"result": result})
            if changed:
                versions.bump(session, versions.PROVIDER_KEYS)
            return changed

        if await self._db.write(work):
            await self._on_change()

    async def sweep_when_due(
        self, changed: Callable[[], Awaitable[None]], longest_wait_s: float
    ) -> None:
        """Sweep whenever a cool-down ends or a rotation overlap passes, until cancelled.
        Between sweeps it sleeps until the earliest such moment, or until `changed`
        returns (the provider keys changed: a new cool-down or rotation, on any
        replica), at most `longest_wait_s`: with no key cooling down or being rotated,
        an idle key vault never wakes for it. A failed sweep is retried after the wait."""
        while True:
            wait_s: float | None = None
            try:
                wait_s = await self._db.query(_seconds_until_due)
                if wait_s is not None and wait_s <= 0 and await self.sweep():
                    continue
            except Exception:
                _log.exception("provider-key sweep failed")
            timeout = longest_wait_s if wait_s is None else min(max(wait_s, 0.0), longest_wait_s)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout or longest_wait_s):
                    await changed()

    async def sweep(self) -> int:
        """End passed cool-downs; retire keys whose rotation overlap is over."""

        def work(session: Session) -> int:
            now = utcnow()
            cooling = session.scalars(
                select(ProviderKeyRow.id)
                .where(ProviderKeyRow.state == ProviderKeyState.COOLING_DOWN.value)
                .where(ProviderKeyRow.cooldown_until <= now)
            ).all()
            if cooling:
                session.execute(
                    update(ProviderKeyRow)
                    .where(ProviderKeyRow.id.in_(cooling))
                    .where(ProviderKeyRow.state == ProviderKeyState.COOLING_DOWN.value)
                    .where(ProviderKeyRow.cooldown_until <= now)
                    .values(
                        state=ProviderKeyState.ACTIVE.value, cooldown_until=None, update_time=now
                    )
                )
            due = session.scalars(
                select(ProviderKeyRow.id)
                .where(ProviderKeyRow.state != ProviderKeyState.RETIRED.value)
                .where(ProviderKeyRow.retire_time <= now)
            ).all()
            for key_id in due:
                audit.record(session, SYSTEM_ACTOR, "provider_key.retire", key_id, {})
            if due:
                session.execute(
                    update(ProviderKeyRow)
                    .where(ProviderKeyRow.id.in_(due))
                    .values(state=ProviderKeyState.RETIRED.value, update_time=now)
                )
            if cooling or due:
                versions.bump(session, versions.PROVIDER_KEYS)
            return len(cooling) + len(due)

        changed = await self._db.write(work)
        if changed:
            await self._on_change()
        return changed

    async def usage(
        self, key_id: str, start: dt.datetime, end: dt.datetime
    ) -> tuple[list[UsageRow], UsageRow]:
        def query(session: Session) -> list[UsageRow]:
            stmt = (
                select(ProviderKeyUsageRow)
                .where(ProviderKeyUsageRow.key_id == key_id)
                .where(ProviderKeyUsageRow.bucket_start >= _hour(start))
                .where(ProviderKeyUsageRow.bucket_start < end)
                .order_by(ProviderKeyUsageRow.bucket_start)
            )
            return [
                UsageRow(
                    r.bucket_start,
                    r.requests,
                    r.errors,
                    r.rate_limited,
                    r.prompt_tokens,
                    r.completion_tokens,
                    r.cost_micros,
                )
                for r in session.scalars(stmt)
            ]

        rows = await self._db.read(query)
        total = UsageRow(
            None,
            *(sum(getattr(r, f) for r in rows) for f in (
                "requests", "errors", "rate_limited", "prompt_tokens", "completion_tokens",
                "cost_micros",
            )),
        )  # fmt: skip
        return rows, total
