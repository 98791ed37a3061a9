"""The HMAC key over client-key secrets: random, created once, stored envelope-encrypted
in the database so that every key-vault replica and restart uses the same one."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from keyvault.crypto.envelope import Envelope, Sealed
from keyvault.storage.database import Database
from keyvault.storage.models import WrappedSecretRow
from keyvault.times import utcnow

__all__ = ["HASH_KEY_NAME", "digest", "load_or_create_hash_key", "rewrap_hash_key"]

HASH_KEY_NAME = "client_key_hash_key"
_CONTEXT = b"agentopia/kv-secret/" + HASH_KEY_NAME.encode()


def digest(hash_key: bytes, secret: str) -> bytes:
    """HMAC-SHA256(hash_key, secret): what is stored, and what routers compare."""
    return hmac.new(hash_key, secret.encode(), hashlib.sha256).digest()


def _sealed(row: WrappedSecretRow) -> Sealed:
    return Sealed(row.kek_id, row.wrapped_dek, row.nonce, row.ciphertext)


async def load_or_create_hash_key(db: Database, envelope: Envelope) -> bytes:
    def load(session: Session) -> Sealed | None:
        row = session.scalar(select(WrappedSecretRow).where(WrappedSecretRow.name == HASH_KEY_NAME))
        return None if row is None else _sealed(row)

    sealed = await db.read(load)
    if sealed is None:
        fresh = envelope.seal(os.urandom(32), context=_CONTEXT)

        def insert(session: Session) -> None:
            session.add(
                WrappedSecretRow(
                    name=HASH_KEY_NAME,
                    kek_id=fresh.kek_id,
                    wrapped_dek=fresh.wrapped_dek,
                    nonce=fresh.nonce,
                    ciphertext=fresh.ciphertext,
                    create_time=utcnow(),
                )
            )

        with contextlib.suppress(IntegrityError):  # another replica created it first
            await db.write(insert)
        sealed = await db.read(load)
        assert sealed is not None
    return await envelope.open(sealed, context=_CONTEXT)


async def rewrap_hash_key(db: Database, envelope: Envelope) -> bool:
    """Re-wrap the hash key's data key under the current KEK; True when it changed."""
    sealed = await db.read(
        lambda s: _maybe(
            s.scalar(select(WrappedSecretRow).where(WrappedSecretRow.name == HASH_KEY_NAME))
        )
    )
    if sealed is None or sealed.kek_id == envelope.current_kek_id:
        return False
    fresh = await envelope.rewrap(sealed, context=_CONTEXT)

    def store(session: Session) -> None:
        row = session.get(WrappedSecretRow, HASH_KEY_NAME)
        if row is not None and row.kek_id == sealed.kek_id:
            row.kek_id, row.wrapped_dek = fresh.kek_id, fresh.wrapped_dek

    await db.write(store)
    return True


def _maybe(row: WrappedSecretRow | None) -> Sealed | None:
    return None if row is None else _sealed(row)
