"""Change counters, one per snapshot feed, bumped in the same transaction as the change
so that every key-vault replica (polling the counter) sees every change."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from keyvault.storage.models import VersionRow

__all__ = ["CLIENT_KEYS", "PROVIDER_KEYS", "bump", "current"]

CLIENT_KEYS = "client_keys"
PROVIDER_KEYS = "provider_keys"


def bump(session: Session, name: str) -> None:
    session.execute(
        update(VersionRow).where(VersionRow.name == name).values(version=VersionRow.version + 1)
    )


def current(session: Session, name: str) -> int:
    version = session.scalar(select(VersionRow.version).where(VersionRow.name == name))
    return int(version or 0)
