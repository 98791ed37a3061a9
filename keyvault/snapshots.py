"""What the client-key feed publishes: the WatchClientKeys message (built once per
change, shared by every watcher) and the directory the key vault authenticates
its own admin callers from."""

from __future__ import annotations

from dataclasses import dataclass

from agentopia.v1 import keyvault_service_pb2 as kv_pb2

from keyvault.access import KeyDirectory
from keyvault.clientkeys import ClientKeyStore
from keyvault.convert import client_key_record

__all__ = ["ClientSnapshot", "build_client_snapshot"]


@dataclass(frozen=True, slots=True)
class ClientSnapshot:
    message: kv_pb2.WatchClientKeysResponse
    directory: KeyDirectory


async def build_client_snapshot(store: ClientKeyStore) -> tuple[int, ClientSnapshot]:
    version, records = await store.snapshot()
    message = kv_pb2.WatchClientKeysResponse(
        hash_key=store.hash_key,
        keys=[client_key_record(record) for record in records],
        version=version,
    )
    return version, ClientSnapshot(message, KeyDirectory(store.hash_key, records))
