"""Client keys carry the governed pass-through parameters they may send: none by
default, set on create or update, validated, pushed to routers in the key snapshot;
migration 0003 adds them to existing keys as "none"."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest
from agentopia.v1 import client_key_service_pb2 as ck_pb2
from google.protobuf import field_mask_pb2
from sqlalchemy import inspect, text

from keyvault.config import KeyVaultConfig
from keyvault.storage import migrate
from keyvault.storage.database import make_engine
from tests.keyvault.conftest import Vault, admin
from tests.support.identity import identity


async def test_a_new_key_may_send_no_governed_parameter(vault: Vault) -> None:
    created = await vault.client_keys.CreateClientKey(
        ck_pb2.CreateClientKeyRequest(name="plain"), metadata=admin()
    )
    assert list(created.key.allowed_parameters) == []


async def test_allowed_parameters_are_set_updated_and_pushed(vault: Vault) -> None:
    created = await vault.client_keys.CreateClientKey(
        ck_pb2.CreateClientKeyRequest(name="tiered", allowed_parameters=["service_tier"]),
        metadata=admin(),
    )
    assert list(created.key.allowed_parameters) == ["service_tier"]
    key = ck_pb2.ClientKey(key_id=created.key.key_id, allowed_parameters=["store", "metadata"])
    updated = await vault.client_keys.UpdateClientKey(
        ck_pb2.UpdateClientKeyRequest(
            key=key, update_mask=field_mask_pb2.FieldMask(paths=["allowed_parameters"])
        ),
        metadata=admin(),
    )
    assert list(updated.key.allowed_parameters) == ["metadata", "store"]
    watch = vault.client_keys.WatchClientKeys(
        ck_pb2.WatchClientKeysRequest(watcher="t"), metadata=identity("router").call_metadata
    )
    snapshot = await watch.read()
    watch.cancel()
    assert isinstance(snapshot, ck_pb2.WatchClientKeysResponse)
    pushed = {r.key.key_id: list(r.key.allowed_parameters) for r in snapshot.keys}
    assert pushed[created.key.key_id] == ["metadata", "store"]


async def test_an_unknown_parameter_is_refused(vault: Vault) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await vault.client_keys.CreateClientKey(
            ck_pb2.CreateClientKeyRequest(name="x", allowed_parameters=["temperature"]),
            metadata=admin(),
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_migration_0003_adds_none_to_existing_keys(
    make_config: Callable[..., KeyVaultConfig],
) -> None:
    config = make_config()
    engine = make_engine(config.database_url, config.database_schema)
    try:
        migrate.upgrade(engine, "0002")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO client_keys (id, prefix, secret_digest, name, role, "
                    "allowed_models, owner, team, rpm_limit, tpm_limit, budget_period, "
                    "bootstrap, create_time, update_time) VALUES ('key_old', 'sk-agp-abcd', "
                    ":digest, 'old', 'client', '[]', '', '', 0, 0, '', false, "
                    "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"
                ),
                {"digest": b"d" * 32},
            )
        migrate.upgrade(engine)
        with engine.connect() as connection:
            value = connection.execute(
                text("SELECT allowed_parameters FROM client_keys WHERE id = 'key_old'")
            ).scalar()
        assert value == "[]"
        migrate.downgrade(engine, "0002")
        columns = {c["name"] for c in inspect(engine).get_columns("client_keys")}
        assert "allowed_parameters" not in columns
    finally:
        engine.dispose()
