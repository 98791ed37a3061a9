"""The lease: every usable provider key with its decrypted secret, for the provider
service's WatchProviderKeys only. Built once per change and held in memory; the only
way a stored secret leaves the key vault."""

from __future__ import annotations

import dataclasses

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyvault.crypto.envelope import Envelope, Sealed
from keyvault.provider_keys.records import ProviderKeyRecord, ProviderKeyState
from keyvault.provider_keys.store import context_for, record_of, sealed_of
from keyvault.storage import versions
from keyvault.storage.database import Database
from keyvault.storage.models import ProviderKeyRow

__all__ = ["LeasedKey", "lease_snapshot"]


@dataclasses.dataclass(frozen=True, slots=True)
class LeasedKey:
    record: ProviderKeyRecord
    secret: str = dataclasses.field(repr=False)


async def lease_snapshot(db: Database, envelope: Envelope) -> tuple[int, list[LeasedKey]]:
    """The change counter and every key not retired, decrypted."""

    def query(session: Session) -> tuple[int, list[tuple[ProviderKeyRecord, Sealed]]]:
        version = versions.current(session, versions.PROVIDER_KEYS)
        stmt = (
            select(ProviderKeyRow)
            .where(ProviderKeyRow.state != ProviderKeyState.RETIRED.value)
            .order_by(ProviderKeyRow.provider, ProviderKeyRow.create_time)
        )
        return version, [(record_of(row), sealed_of(row)) for row in session.scalars(stmt)]

    version, rows = await db.read(query)
    leased = []
    for record, sealed in rows:
        plain = await envelope.open(sealed, context=context_for(record.key_id))
        leased.append(LeasedKey(record, plain.decode()))
    return version, leased
