"""The database handle: a synchronous SQLAlchemy engine whose transactions run in a
worker thread, so the event loop never blocks on I/O. Nothing here is on the hot
path (routers authenticate from pushed snapshots)."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

__all__ = ["Database", "make_engine"]

T = TypeVar("T")

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def make_engine(url: str, schema: str = "") -> Engine:
    """An engine for SQLite (WAL, busy timeout) or PostgreSQL via psycopg (optional schema)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args: dict[str, Any] = {}
    if schema:
        if not _SCHEMA_NAME.match(schema):
            raise ValueError(f"invalid PostgreSQL schema name {schema!r}")
        connect_args["options"] = f"-c search_path={schema}"
    return create_engine(
        url, connect_args=connect_args, pool_pre_ping=True, pool_size=5, hide_parameters=True
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class Database:
    """Runs one transaction per call in a thread. On SQLite, writers take an in-process
    lock (SQLite allows one writer; pysqlite's deferred transactions would otherwise
    fail fast with "database is locked" instead of waiting)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        self._write_lock = threading.Lock()
        # Transactions still running in worker threads (a cancelled await does not stop
        # its thread); close() waits for them so no connection outlives the pool.
        self._active = 0
        self._idle = threading.Condition()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def read(self, work: Callable[[Session], T]) -> T:
        return await asyncio.to_thread(self._transaction, work, False)

    async def write(self, work: Callable[[Session], T]) -> T:
        return await asyncio.to_thread(self._transaction, work, True)

    async def query(self, work: Callable[[Connection], T]) -> T:
        """A read on a plain connection, without an ORM session: for the small reads
        made several times a second (half the CPU of `read`)."""
        return await asyncio.to_thread(self._tracked, self._connected, work)

    def _transaction(self, work: Callable[[Session], T], writing: bool) -> T:
        if writing and self._sqlite:
            with self._write_lock:
                return self._tracked(self._run, work)
        return self._tracked(self._run, work)

    def _tracked(self, run: Callable[[Callable[[Any], T]], T], work: Callable[[Any], T]) -> T:
        with self._idle:
            self._active += 1
        try:
            return run(work)
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    def _run(self, work: Callable[[Session], T]) -> T:
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            return work(session)

    def _connected(self, work: Callable[[Connection], T]) -> T:
        with self.engine.connect() as connection:
            return work(connection)

    def dispose(self, timeout_s: float = 30.0) -> None:
        """Close every connection once the transactions in flight have finished."""
        with self._idle:
            self._idle.wait_for(lambda: self._active == 0, timeout_s)
        self.engine.dispose()
