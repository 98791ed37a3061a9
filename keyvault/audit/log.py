"""The audit log: every change, who made it and when — never a secret."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from keyvault.actors import Actor, Role
from keyvault.storage.database import Database
from keyvault.storage.models import AuditEventRow
from keyvault.times import utcnow

__all__ = ["AuditEvent", "AuditLog", "record"]

MAX_PAGE = 1000


@dataclass(frozen=True, slots=True)
class AuditEvent:
    event_id: int
    time: dt.datetime
    actor: Actor
    action: str
    target_id: str
    details: Mapping[str, str]


def record(
    session: Session,
    actor: Actor,
    action: str,
    target_id: str,
    details: Mapping[str, object] | None = None,
) -> None:
    """Add one event to the caller's transaction (so it lands exactly when the change does)."""
    session.add(
        AuditEventRow(
            time=utcnow(),
            actor_key_id=actor.key_id,
            actor_name=actor.name,
            actor_role=actor.role.value,
            action=action,
            target_id=target_id,
            details=orjson.dumps({k: str(v) for k, v in (details or {}).items()}).decode(),
        )
    )


def _event(row: AuditEventRow) -> AuditEvent:
    return AuditEvent(
        event_id=row.id,
        time=row.time,
        actor=Actor(row.actor_key_id, row.actor_name, Role(row.actor_role)),
        action=row.action,
        target_id=row.target_id,
        details=orjson.loads(row.details),
    )


class AuditLog:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def page(
        self, *, size: int, before: int | None = None, target_id: str = ""
    ) -> tuple[list[AuditEvent], int | None]:
        """Newest first; returns the events and the id to continue before (or None)."""
        size = max(1, min(size or 100, MAX_PAGE))

        def query(session: Session) -> list[AuditEvent]:
            stmt = select(AuditEventRow).order_by(AuditEventRow.id.desc()).limit(size + 1)
            if before is not None:
                stmt = stmt.where(AuditEventRow.id < before)
            if target_id:
                stmt = stmt.where(AuditEventRow.target_id == target_id)
            return [_event(row) for row in session.scalars(stmt)]

        events = await self._db.read(query)
        if len(events) > size:
            return events[:size], events[size - 1].event_id
        return events, None
