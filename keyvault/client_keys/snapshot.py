"""What the client-key feed publishes, built once per change and shared by every
watcher: the WatchClientKeys message, and the directory the key vault authenticates its
own admin callers from."""

from __future__ import annotations

from dataclasses import dataclass

from agentopia.v1 import client_key_service_pb2 as ck_pb2

from keyvault.client_keys.convert import client_key_record
from keyvault.client_keys.directory import KeyDirectory
from keyvault.client_keys.store import read_all
from keyvault.storage.database import Database

__all__ = ["ClientSnapshot", "build_client_snapshot"]


@dataclass(frozen=True, slots=True)
class ClientSnapshot:
    message: ck_pb2.WatchClientKeysResponse
    directory: KeyDirectory


async def build_client_snapshot(db: Database, hash_key: bytes) -> tuple[int, ClientSnapshot]:
    version, records = await read_all(db)
    message = ck_pb2.WatchClientKeysResponse(
        hash_key=hash_key,
        keys=[client_key_record(record) for record in records],
        version=version,
    )
    return version, ClientSnapshot(message, KeyDirectory(hash_key, records))
