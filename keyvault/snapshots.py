"""What the feeds publish, built once per change and shared by every watcher: the
WatchClientKeys message with the directory the key vault authenticates its own admin
callers from, and the WatchRoutingConfig message."""

from __future__ import annotations

from dataclasses import dataclass

from agentopia.v1 import keyvault_service_pb2 as kv_pb2

from keyvault.access import KeyDirectory
from keyvault.clientkeys import ClientKeyStore
from keyvault.convert import client_key_record, routing_revision
from keyvault.routing_config import RoutingConfigStore

__all__ = ["ClientSnapshot", "build_client_snapshot", "build_routing_snapshot"]


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


async def build_routing_snapshot(
    store: RoutingConfigStore,
) -> tuple[int, kv_pb2.WatchRoutingConfigResponse]:
    """Only the latest revision is pushed (history stays in the table)."""
    version, revision = await store.snapshot()
    return version, kv_pb2.WatchRoutingConfigResponse(revision=routing_revision(revision))
