"""Change counters, one per snapshot feed, bumped in the same transaction as the change
so that every key-vault replica (polling the counter) sees every change. The one place
that writes a change and publishes it (`commit`) and reads the counters (`read_all`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy import Connection, select, update
from sqlalchemy.orm import Session

from keyvault.storage.database import Database
from keyvault.storage.models import VersionRow

__all__ = [
    "CLIENT_KEYS",
    "PROVIDER_KEYS",
    "ROUTING_CONFIG",
    "bump",
    "commit",
    "current",
    "read_all",
]

CLIENT_KEYS = "client_keys"
PROVIDER_KEYS = "provider_keys"
ROUTING_CONFIG = "routing_config"

T = TypeVar("T")


def bump(session: Session, name: str) -> None:
    """+1 on the counter. On PostgreSQL this also row-locks the counter until commit, so
    writers that bump first are serialised across replicas."""
    session.execute(
        update(VersionRow).where(VersionRow.name == name).values(version=VersionRow.version + 1)
    )


def current(session: Session, name: str) -> int:
    version = session.scalar(select(VersionRow.version).where(VersionRow.name == name))
    return int(version or 0)


_ALL = select(VersionRow.name, VersionRow.version)


def _all(connection: Connection) -> dict[str, int]:
    return {name: int(version or 0) for name, version in connection.execute(_ALL)}


async def read_all(db: Database) -> dict[str, int]:
    """Every counter, in one small query (what the feeds' follower polls)."""
    return await db.query(_all)


async def commit(
    db: Database,
    name: str,
    work: Callable[[Session], T],
    publish: Callable[[], Awaitable[None]],
    *,
    bump_first: bool = False,
) -> T:
    """Run `work` and bump counter `name` in one transaction, then `publish` (the feed's
    `changed`) before returning, so this replica's watchers see the change before the
    caller's RPC answers. `bump_first` takes the counter's lock before `work` reads
    (compare-and-set)."""

    def tx(session: Session) -> T:
        if bump_first:
            bump(session, name)
        result = work(session)
        if not bump_first:
            bump(session, name)
        return result

    result = await db.write(tx)
    await publish()
    return result
