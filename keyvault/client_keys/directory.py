"""The key vault's own view of the client keys: by the digest of their secret, for
authenticating the admin and viewer keys that call its admin RPCs (no database read)."""

from __future__ import annotations

from collections.abc import Sequence

from keyvault import errors
from keyvault.client_keys.hash_key import digest
from keyvault.client_keys.records import ClientKeyRecord
from keyvault.times import utcnow

__all__ = ["KeyDirectory"]


class KeyDirectory:
    """Client keys by the digest of their secret, for authenticating admin callers."""

    def __init__(self, hash_key: bytes, records: Sequence[ClientKeyRecord]) -> None:
        self._hash_key = hash_key
        self._by_digest = {record.secret_digest: record for record in records}

    def authenticate(self, token: str | None) -> ClientKeyRecord:
        if token is None:
            raise errors.unauthenticated(
                "missing_api_key",
                "You didn't provide an API key. "
                "Send an admin key as 'Authorization: Bearer <key>'.",
            )
        if not token:
            raise errors.unauthenticated(
                "malformed_api_key", "The Authorization header must be 'Bearer <key>'."
            )
        record = self._by_digest.get(digest(self._hash_key, token))
        if record is None:
            raise errors.unauthenticated(
                "invalid_api_key", "Incorrect API key provided. Check the key and try again."
            )
        if record.revoked:
            raise errors.unauthenticated(
                "revoked_api_key", "This API key has been revoked; ask an admin for a new one."
            )
        if record.expired(utcnow()):
            raise errors.unauthenticated(
                "expired_api_key", "This API key has expired; ask an admin for a new one."
            )
        return record
