"""Rotation without downtime, by new secret or by Secret Manager version; the provider
service's lease follows every step and always holds a usable key."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from agentopia.v1 import provider_key_service_pb2 as pk_pb2
from google.protobuf import duration_pb2
from sqlalchemy import select

from keyvault.config import KeyVaultConfig
from keyvault.storage.database import make_engine
from keyvault.storage.models import ProviderKeyRow, WrappedSecretRow
from tests.keyvault.conftest import SERVICE_TOKEN, Vault, admin
from tests.keyvault.fake_secret_manager import FakeSecretManager
from tests.keyvault.streams import Follower

Lease = pk_pb2.WatchProviderKeysResponse


def _kek_ids(config: KeyVaultConfig) -> set[str]:
    """The KEK versions the stored data keys (provider keys, hash key) are wrapped under."""
    engine = make_engine(config.database_url, config.database_schema)
    try:
        with engine.connect() as connection:
            provider = connection.scalars(select(ProviderKeyRow.kek_id)).all()
            hashing = connection.scalars(select(WrappedSecretRow.kek_id)).all()
            return {*provider, *hashing}
    finally:
        engine.dispose()


def _lease(vault: Vault) -> Follower[Lease]:
    call = vault.provider_keys.WatchProviderKeys(
        pk_pb2.WatchProviderKeysRequest(watcher="provider-test", providers=["mock"]),
        metadata=admin(SERVICE_TOKEN),
    )
    return Follower(call)


def _usable(snapshot: Lease) -> dict[str, str]:
    return {
        k.key.key_id: k.secret
        for k in snapshot.keys
        if k.key.state == pk_pb2.PROVIDER_KEY_STATE_ACTIVE
    }


def _overlap(seconds: float) -> duration_pb2.Duration:
    overlap = duration_pb2.Duration()
    overlap.FromNanoseconds(int(seconds * 1e9))
    return overlap


async def test_rotation_keeps_a_usable_key_at_every_step(vault: Vault) -> None:
    old_secret, new_secret = "sk-old-" + secrets.token_hex(12), "sk-new-" + secrets.token_hex(12)
    old = await vault.provider_keys.CreateProviderKey(
        pk_pb2.CreateProviderKeyRequest(provider="mock", secret=old_secret, weight=4),
        metadata=admin(),
    )
    lease = _lease(vault)
    try:
        await lease.until(lambda s: old.key.key_id in _usable(s))
        rotated = await vault.provider_keys.RotateProviderKey(
            pk_pb2.RotateProviderKeyRequest(
                key_id=old.key.key_id, secret=new_secret, overlap=_overlap(0.5)
            ),
            metadata=admin(),
        )
        new_id = rotated.new_key.key_id
        assert rotated.new_key.weight == 4 and rotated.new_key.last4 == new_secret[-4:]
        assert rotated.old_key.replaced_by == new_id and rotated.old_key.HasField("retire_time")
        both = await lease.until(lambda s: new_id in _usable(s))
        assert _usable(both) == {old.key.key_id: old_secret, new_id: new_secret}
        final = await lease.until(lambda s: old.key.key_id not in _usable(s))
        assert _usable(final) == {new_id: new_secret}
        assert all(_usable(s) for s in lease.seen), "a snapshot without a usable key"
    finally:
        await lease.close()
    old_now = await vault.provider_keys.GetProviderKey(
        pk_pb2.GetProviderKeyRequest(key_id=old.key.key_id), metadata=admin()
    )
    assert old_now.key.state == pk_pb2.PROVIDER_KEY_STATE_RETIRED
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await vault.provider_keys.RotateProviderKey(
            pk_pb2.RotateProviderKeyRequest(key_id=old.key.key_id, secret=new_secret),
            metadata=admin(),
        )
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_rotation_by_secret_manager_version(
    start_vault: Callable[..., Any],
    make_config: Callable[..., KeyVaultConfig],
    fake_sm: FakeSecretManager,
) -> None:
    vault: Vault = await start_vault(
        make_config(AGENTOPIA_SECRET_MANAGER_ENDPOINT=fake_sm.endpoint)
    )
    secret_name = "projects/p/secrets/agentopia-provider-mock-key"
    first = "sk-sm-v1-" + secrets.token_hex(12)
    fake_sm.add_version(secret_name, first.encode())
    created = await vault.provider_keys.CreateProviderKey(
        pk_pb2.CreateProviderKeyRequest(
            provider="mock", secret_version=f"{secret_name}/versions/latest"
        ),
        metadata=admin(),
    )
    assert created.key.secret_version == f"{secret_name}/versions/1"
    second = "sk-sm-v2-" + secrets.token_hex(12)
    fake_sm.add_version(secret_name, second.encode())
    rotated = await vault.provider_keys.RotateProviderKey(
        pk_pb2.RotateProviderKeyRequest(key_id=created.key.key_id, overlap=_overlap(0)),
        metadata=admin(),
    )
    assert rotated.new_key.secret_version == f"{secret_name}/versions/2"
    assert rotated.old_key.state == pk_pb2.PROVIDER_KEY_STATE_RETIRED  # no overlap asked
    lease = _lease(vault)
    try:
        snapshot = await lease.until(lambda s: bool(_usable(s)))
        assert _usable(snapshot) == {rotated.new_key.key_id: second}
    finally:
        await lease.close()


async def test_kek_rotation_in_secret_manager_rewraps_on_restart(
    start_vault: Callable[..., Any],
    make_config: Callable[..., KeyVaultConfig],
    fake_sm: FakeSecretManager,
) -> None:
    kek_secret = "projects/p/secrets/agentopia-kek"
    fake_sm.add_version(kek_secret, secrets.token_bytes(32))
    config = make_config(
        AGENTOPIA_KEK_SOURCE="secret-manager",
        AGENTOPIA_KEK_SECRET=kek_secret,
        AGENTOPIA_SECRET_MANAGER_ENDPOINT=fake_sm.endpoint,
    )
    first: Vault = await start_vault(config)
    secret = "sk-kek-" + secrets.token_hex(12)
    key = await first.provider_keys.CreateProviderKey(
        pk_pb2.CreateProviderKeyRequest(provider="mock", secret=secret), metadata=admin()
    )
    await first.running.stop()

    fake_sm.add_version(kek_secret, secrets.token_bytes(32))  # a new KEK version
    second: Vault = await start_vault(config)
    assert _kek_ids(second.config) == {f"{kek_secret}/versions/2"}  # every data key re-wrapped
    lease = _lease(second)
    try:
        snapshot = await lease.until(lambda s: bool(_usable(s)))
        assert _usable(snapshot) == {key.key.key_id: secret}
    finally:
        await lease.close()
    # Re-wrapped: version 1 of the KEK is no longer needed and may be destroyed.
    assert f"{kek_secret}/versions/1" in fake_sm.access_log
    fake_sm.versions[kek_secret][0] = None
    await second.running.stop()
    third: Vault = await start_vault(config)
    lease = _lease(third)
    try:
        snapshot = await lease.until(lambda s: bool(_usable(s)))
        assert _usable(snapshot) == {key.key.key_id: secret}
    finally:
        await lease.close()
