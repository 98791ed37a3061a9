"""Provider keys: stored encrypted (a raw read of the database shows no plaintext), never
returned by the admin API, several per provider with weights and states."""

from __future__ import annotations

import pathlib
import secrets

import grpc
import pytest
from agentopia.v1 import audit_service_pb2 as audit_pb2
from agentopia.v1 import provider_key_service_pb2 as pk_pb2
from google.protobuf import field_mask_pb2
from sqlalchemy import select

from keyvault.config import KeyVaultConfig
from keyvault.storage.database import make_engine
from keyvault.storage.models import Base
from tests.keyvault.conftest import SERVICE_TOKEN, Vault, admin

SECRET = "sk-live-" + secrets.token_urlsafe(30)  # random: no 8-char window occurs by chance


def raw_database_bytes(config: KeyVaultConfig) -> bytes:
    """Every value of every table, plus (SQLite) the database files themselves."""
    chunks: list[bytes] = []
    if config.is_sqlite:
        path = pathlib.Path(config.database_url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal"):
            file = path.with_name(path.name + suffix)
            if file.exists():
                chunks.append(file.read_bytes())
    engine = make_engine(config.database_url, config.database_schema)
    try:
        with engine.connect() as connection:
            for table in Base.metadata.sorted_tables:
                for row in connection.execute(select(table)):
                    for value in row:
                        chunks.append(value if isinstance(value, bytes) else str(value).encode())
    finally:
        engine.dispose()
    return b"\n".join(chunks)


def assert_no_plaintext(blob: bytes, secret: str) -> None:
    # Only the last four characters are ever kept in the clear.
    windows = {secret[i : i + 8].encode() for i in range(len(secret) - 7)}
    leaked = [w for w in windows if w in blob]
    assert not leaked, f"plaintext fragments found: {leaked[:3]}"


async def _create(vault: Vault, **fields: object) -> pk_pb2.ProviderKey:
    request = pk_pb2.CreateProviderKeyRequest(provider="mock", secret=SECRET, **fields)  # type: ignore[arg-type]
    response = await vault.provider_keys.CreateProviderKey(request, metadata=admin())
    return response.key


async def test_a_raw_read_of_the_database_shows_no_provider_key(vault: Vault) -> None:
    key = await _create(vault, label="primary", weight=3)
    await _create(vault, label="second")
    assert (key.provider, key.label, key.weight, key.last4) == ("mock", "primary", 3, SECRET[-4:])
    assert key.state == pk_pb2.PROVIDER_KEY_STATE_ACTIVE and key.key_id.startswith("pkey_")
    blob = raw_database_bytes(vault.config)
    assert b"pkey_" in blob and len(blob) > 1000  # the scan did read the data
    assert_no_plaintext(blob, SECRET)


async def test_the_admin_api_never_returns_the_secret(vault: Vault) -> None:
    key = await _create(vault)
    responses = [
        await vault.provider_keys.GetProviderKey(
            pk_pb2.GetProviderKeyRequest(key_id=key.key_id), metadata=admin()
        ),
        await vault.provider_keys.ListProviderKeys(
            pk_pb2.ListProviderKeysRequest(), metadata=admin()
        ),
        await vault.audit.ListAuditEvents(audit_pb2.ListAuditEventsRequest(), metadata=admin()),
    ]
    for response in responses:
        assert_no_plaintext(response.SerializeToString(), SECRET)
    # ...while the provider service, with the service token, gets it in its lease.
    call = vault.provider_keys.WatchProviderKeys(
        pk_pb2.WatchProviderKeysRequest(watcher="t", providers=["mock"]),
        metadata=admin(SERVICE_TOKEN),
    )
    snapshot = await call.read()
    call.cancel()
    assert isinstance(snapshot, pk_pb2.WatchProviderKeysResponse)
    assert [(k.key.key_id, k.secret) for k in snapshot.keys] == [(key.key_id, SECRET)]


async def test_several_keys_per_provider_with_weights_and_states(vault: Vault) -> None:
    first = await _create(vault, weight=1)
    second = await _create(vault, weight=5)
    other = await vault.provider_keys.CreateProviderKey(
        pk_pb2.CreateProviderKeyRequest(provider="other-llm", secret=SECRET + "x"), metadata=admin()
    )
    mock_keys = await vault.provider_keys.ListProviderKeys(
        pk_pb2.ListProviderKeysRequest(provider="mock"), metadata=admin()
    )
    assert [k.key_id for k in mock_keys.keys] == [first.key_id, second.key_id]

    def patch(key_id: str, paths: list[str], **fields: object) -> pk_pb2.UpdateProviderKeyRequest:
        return pk_pb2.UpdateProviderKeyRequest(
            key=pk_pb2.ProviderKey(key_id=key_id, **fields),  # type: ignore[arg-type]
            update_mask=field_mask_pb2.FieldMask(paths=paths),
        )

    updated = await vault.provider_keys.UpdateProviderKey(
        patch(first.key_id, ["weight", "label", "state"], weight=0, label="standby",
              state=pk_pb2.PROVIDER_KEY_STATE_DISABLED),
        metadata=admin(),
    )  # fmt: skip
    assert (updated.key.weight, updated.key.label) == (0, "standby")
    assert updated.key.state == pk_pb2.PROVIDER_KEY_STATE_DISABLED
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await vault.provider_keys.UpdateProviderKey(
            patch(first.key_id, ["state"], state=pk_pb2.PROVIDER_KEY_STATE_COOLING_DOWN),
            metadata=admin(),
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    retired = await vault.provider_keys.UpdateProviderKey(
        patch(second.key_id, ["state"], state=pk_pb2.PROVIDER_KEY_STATE_RETIRED), metadata=admin()
    )
    assert retired.key.HasField("retire_time")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await vault.provider_keys.UpdateProviderKey(
            patch(second.key_id, ["state"], state=pk_pb2.PROVIDER_KEY_STATE_ACTIVE),
            metadata=admin(),
        )
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    listed = await vault.provider_keys.ListProviderKeys(
        pk_pb2.ListProviderKeysRequest(), metadata=admin()
    )
    assert {k.key_id for k in listed.keys} == {first.key_id, other.key.key_id}

    await vault.provider_keys.DeleteProviderKey(
        pk_pb2.DeleteProviderKeyRequest(key_id=first.key_id), metadata=admin()
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await vault.provider_keys.GetProviderKey(
            pk_pb2.GetProviderKeyRequest(key_id=first.key_id), metadata=admin()
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    "fields",
    [
        {"provider": "Bad Name", "secret": SECRET},
        {"provider": "mock", "secret": ""},
        {"provider": "mock", "secret": "short"},
        {"provider": "mock", "secret": SECRET, "weight": -1},
        {"provider": "mock", "secret_version": "projects/p/secrets/s/versions/1"},
    ],
)
async def test_bad_provider_keys_are_refused(vault: Vault, fields: dict[str, object]) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await vault.provider_keys.CreateProviderKey(
            pk_pb2.CreateProviderKeyRequest(**fields),  # type: ignore[arg-type]
            metadata=admin(),
        )
    assert caught.value.code() in (
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.FAILED_PRECONDITION,  # secret_version without Secret Manager
    )
    assert SECRET not in (caught.value.details() or "")
