"""The router's model-routing config, stored for every router replica: versioned text
with compare-and-set, every revision kept, the latest one pushed to watchers through
the same counter feed as the keys. The key vault never parses the document (the router
validates it), so it holds no routing knowledge."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from keyvault import errors
from keyvault.actors import Actor
from keyvault.audit import log as audit
from keyvault.storage import versions
from keyvault.storage.database import Database
from keyvault.storage.models import RoutingConfigRow
from keyvault.times import utcnow
from services.kernel.errors import GatewayError

__all__ = ["MAX_TOML_BYTES", "RoutingConfigStore", "RoutingRevision", "read_latest"]

MAX_TOML_BYTES = 1024 * 1024
_MAX_VERSION = 2**31 - 1  # RoutingConfigRevision.version is an int32
TARGET_ID = "routing_config"  # the audit events' target


@dataclass(frozen=True, slots=True)
class RoutingRevision:
    """A stored revision; version 0 (empty text, no time) when nothing is stored."""

    version: int
    toml: str
    update_time: dt.datetime | None
    updated_by: str


NONE_STORED = RoutingRevision(version=0, toml="", update_time=None, updated_by="")


def _revision(row: RoutingConfigRow | None) -> RoutingRevision:
    if row is None:
        return NONE_STORED
    return RoutingRevision(row.version, row.toml, row.update_time, row.updated_by)


def _latest(session: Session) -> RoutingConfigRow | None:
    stmt = select(RoutingConfigRow).order_by(RoutingConfigRow.version.desc()).limit(1)
    return session.scalar(stmt)


def _conflict(expected: int, current: int) -> GatewayError:
    return errors.aborted(
        "routing_config_conflict",
        f"The routing config is at version {current}, not {expected}; "
        "fetch it again and re-apply your edit.",
    )


def _check(toml: str, expected_version: int) -> int:
    """The document's size in bytes, after the checks that need no database."""
    size = len(toml.encode("utf-8"))
    if size > MAX_TOML_BYTES:
        raise errors.invalid_argument(
            f"the routing config is {size} bytes; at most {MAX_TOML_BYTES} bytes (1 MiB) "
            "are accepted",
            "toml",
        )
    if not toml.strip():
        raise errors.invalid_argument("toml is empty; send the whole registry document", "toml")
    if not 0 <= expected_version < _MAX_VERSION:
        raise errors.invalid_argument(
            "expected_version must be the stored version (0 or more)", "expected_version"
        )
    return size


class RoutingConfigStore:
    def __init__(self, db: Database, on_change: Callable[[], Awaitable[None]]) -> None:
        self._db = db
        self._on_change = on_change

    async def put(self, actor: Actor, toml: str, *, expected_version: int) -> RoutingRevision:
        """Store `toml` as revision expected_version + 1 if the stored version is
        `expected_version` (anything is accepted while nothing is stored)."""
        size = _check(toml, expected_version)

        def work(session: Session) -> RoutingRevision:
            # The counter was bumped (and so row-locked on PostgreSQL) before this read:
            # concurrent puts from any replica see each other's committed revision.
            latest = _latest(session)
            if latest is not None and latest.version != expected_version:
                raise _conflict(expected_version, latest.version)
            row = RoutingConfigRow(
                version=expected_version + 1,
                toml=toml,
                update_time=utcnow(),
                updated_by=actor.key_id,
            )
            session.add(row)
            session.flush()
            details = {
                "version": row.version,
                "previous_version": 0 if latest is None else latest.version,
                "bytes": size,
                "sha256": hashlib.sha256(toml.encode("utf-8")).hexdigest(),
            }
            audit.record(session, actor, "routing_config.update", TARGET_ID, details)
            return _revision(row)

        try:
            return await versions.commit(
                self._db, versions.ROUTING_CONFIG, work, self._on_change, bump_first=True
            )
        except IntegrityError:  # a concurrent put took the same version (belt and braces)
            current = await self.latest()
            raise _conflict(expected_version, current.version) from None

    async def latest(self) -> RoutingRevision:
        return await self._db.read(lambda session: _revision(_latest(session)))

    async def history(self, *, limit: int = 100) -> list[RoutingRevision]:
        """Newest first."""

        def query(session: Session) -> list[RoutingRevision]:
            stmt = (
                select(RoutingConfigRow)
                .order_by(RoutingConfigRow.version.desc())
                .limit(max(1, limit))
            )
            return [_revision(row) for row in session.scalars(stmt)]

        return await self._db.read(query)


async def read_latest(db: Database) -> tuple[int, RoutingRevision]:
    """(change counter, latest revision), read together for the feed."""

    def query(session: Session) -> tuple[int, RoutingRevision]:
        return versions.current(session, versions.ROUTING_CONFIG), _revision(_latest(session))

    return await db.read(query)
