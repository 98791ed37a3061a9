"""WatchClientKeys: a snapshot on connect, a new one after every change, from any
key-vault replica (two replicas share one database; a change on one reaches a watcher
of the other through the version counter)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import grpc
from agentopia.v1 import client_key_service_pb2 as ck_pb2

from keyvault.config import KeyVaultConfig
from tests.keyvault.conftest import ADMIN_KEY, Vault, admin
from tests.keyvault.streams import Follower


def Watcher(vault: Vault) -> Follower[ck_pb2.WatchClientKeysResponse]:
    call = vault.client_keys.WatchClientKeys(ck_pb2.WatchClientKeysRequest(watcher="test"))
    return Follower(call)


def _record(snapshot: ck_pb2.WatchClientKeysResponse, key_id: str) -> ck_pb2.ClientKeyRecord | None:
    return next((r for r in snapshot.keys if r.key.key_id == key_id), None)


async def test_snapshot_on_connect_then_one_after_every_change(vault: Vault) -> None:
    watcher = Watcher(vault)
    try:
        first = await watcher.until(lambda s: True)
        boot = [r for r in first.keys if r.key.bootstrap]
        assert len(boot) == 1
        expected = hmac.new(first.hash_key, ADMIN_KEY.encode(), hashlib.sha256).digest()
        assert boot[0].secret_digest == expected  # what the router computes per request

        created = await vault.client_keys.CreateClientKey(
            ck_pb2.CreateClientKeyRequest(name="w", rpm_limit=60), metadata=admin()
        )
        key_id = created.key.key_id
        # The key vault publishes before CreateClientKey answers; no polling needed here.
        assert watcher.latest is not None
        snap = await watcher.until(lambda s: _record(s, key_id) is not None)
        assert snap.version > first.version
        record = _record(snap, key_id)
        assert record is not None and record.key.rpm_limit == 60
        digest = hmac.new(snap.hash_key, created.secret.encode(), hashlib.sha256).digest()
        assert record.secret_digest == digest

        await vault.client_keys.RevokeClientKey(
            ck_pb2.RevokeClientKeyRequest(key_id=key_id), metadata=admin()
        )
        revoked = await watcher.until(lambda s: bool(_record(s, key_id).key.revoked))  # type: ignore[union-attr]
        assert revoked.version > snap.version
    finally:
        await watcher.close()


async def test_a_change_on_one_replica_reaches_watchers_of_another(
    start_vault: Callable[..., Any], make_config: Callable[..., KeyVaultConfig]
) -> None:
    config = make_config()
    replica_a: Vault = await start_vault(config)
    replica_b: Vault = await start_vault(config)  # same database, same KEK file
    watcher = Watcher(replica_b)
    try:
        await watcher.until(lambda s: True)
        created = await replica_a.client_keys.CreateClientKey(
            ck_pb2.CreateClientKeyRequest(name="cross"), metadata=admin()
        )
        key_id = created.key.key_id
        await watcher.until(lambda s: _record(s, key_id) is not None)
        await replica_a.client_keys.RevokeClientKey(
            ck_pb2.RevokeClientKeyRequest(key_id=key_id), metadata=admin()
        )
        await watcher.until(lambda s: bool(_record(s, key_id).key.revoked))  # type: ignore[union-attr]
        # Replica B's own admin check follows too: the revoked key is refused there.
        try:
            await replica_b.client_keys.ListClientKeys(
                ck_pb2.ListClientKeysRequest(), metadata=admin(created.secret)
            )
        except grpc.aio.AioRpcError as error:
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        else:
            raise AssertionError("a revoked key was accepted by the other replica")
    finally:
        await watcher.close()
