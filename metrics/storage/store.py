"""Batch writes: events inserted idempotently and their rollup updated, in one
transaction, with `INSERT ... ON CONFLICT DO NOTHING RETURNING event_id` on both
SQLite (a multi-row VALUES) and PostgreSQL (`INSERT ... SELECT unnest(arrays)`).
Only the rows this transaction inserted feed the rollup, so a batch delivered
twice, even concurrently, is counted once.

SQLAlchemy's PostgreSQL dialect module (about 5 MiB resident) is imported only by a
store on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from metrics.storage.ingest import Row, rollup_deltas
from metrics.storage.schema import ROLLUP_KEYS, ROLLUP_SUMS, usage_events, usage_minute

__all__ = ["UsageStore"]


class UsageStore:
    """Synchronous; callers run it in a worker thread. SQLite writes are
    serialized in-process (one writer at a time is all SQLite allows)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._insert: Any = sqlite.insert
        self._pg_insert: Any = None
        if self.dialect == "postgresql":
            from sqlalchemy.dialects import postgresql  # noqa: PLC0415

            self._insert = postgresql.insert
            self._pg_insert = _pg_insert_events(postgresql)
        self._write_lock = threading.Lock() if self.dialect == "sqlite" else None

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))

    def record(self, rows: Sequence[Row]) -> list[Row]:
        """Store `rows` (distinct event_ids); returns those not stored before."""
        if not rows:
            return []
        if self._write_lock is None:
            return self._record(rows)
        with self._write_lock:
            return self._record(rows)

    def _record(self, rows: Sequence[Row]) -> list[Row]:
        ordered = sorted(rows, key=lambda row: str(row["event_id"]))
        with self.engine.begin() as connection:
            inserted = set(self._insert_events(connection, ordered))
            fresh = [row for row in ordered if row["event_id"] in inserted]
            deltas = rollup_deltas(fresh)
            if deltas:
                connection.execute(self._upsert_rollup(), deltas)
        return fresh

    def _insert_events(self, connection: sa.Connection, rows: Sequence[Row]) -> list[str]:
        if self.dialect == "postgresql":
            # One statement with one array per column: psycopg adapts arrays
            # fast, where a 500-row VALUES list with RETURNING costs ~5x more.
            columns = {c.name: [row[c.name] for row in rows] for c in usage_events.c}
            return list(connection.execute(self._pg_insert, columns).scalars())
        statement = (
            sqlite.insert(usage_events)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(usage_events.c.event_id)
        )
        return list(connection.execute(statement, list(rows)).scalars())

    def _upsert_rollup(self) -> Any:
        statement = self._insert(usage_minute)
        excluded = statement.excluded
        return statement.on_conflict_do_update(
            index_elements=list(ROLLUP_KEYS),
            set_={name: usage_minute.c[name] + excluded[name] for name in ROLLUP_SUMS},
        )


def _pg_insert_events(postgresql: Any) -> Any:
    """One INSERT ... SELECT unnest(array per column), ON CONFLICT DO NOTHING."""
    return (
        postgresql.insert(usage_events)
        .from_select(
            [c.name for c in usage_events.c],
            sa.select(
                *(
                    sa.func.unnest(sa.bindparam(c.name, type_=postgresql.ARRAY(c.type))).label(
                        c.name
                    )
                    for c in usage_events.c
                )
            ),
        )
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(usage_events.c.event_id)
    )
