"""Client keys through the real gRPC API, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from agentopia.v1 import client_key_service_pb2 as ck_pb2
from agentopia.v1 import keyvault_types_pb2 as kv_types
from google.protobuf import field_mask_pb2

from tests.keyvault.conftest import Vault, admin


def _future(hours: int = 1) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)


async def test_create_shows_the_secret_once_and_stores_every_field(vault: Vault) -> None:
    request = ck_pb2.CreateClientKeyRequest(
        name="search team",
        role=kv_types.KEY_ROLE_CLIENT,
        allowed_models=["mock/echo", "fast"],
        owner="ada",
        team="search",
        rpm_limit=60,
        tpm_limit=10_000,
        budget_usd="1.5",
    )
    request.expire_time.FromDatetime(_future())
    created = await vault.client_keys.CreateClientKey(request, metadata=admin())
    assert created.secret.startswith("sk-agp-") and len(created.secret) == 7 + 43
    key = created.key
    assert key.key_id.startswith("key_")
    assert created.secret.startswith(key.prefix) and len(key.prefix) == 11
    assert (key.name, key.owner, key.team) == ("search team", "ada", "search")
    assert list(key.allowed_models) == ["mock/echo", "fast"]
    assert (key.rpm_limit, key.tpm_limit, key.budget_usd) == (60, 10_000, "1.50")
    assert key.budget_period == ck_pb2.BUDGET_PERIOD_MONTHLY  # a budget defaults to monthly
    assert key.HasField("expire_time") and not key.revoked

    fetched = await vault.client_keys.GetClientKey(
        ck_pb2.GetClientKeyRequest(key_id=key.key_id), metadata=admin()
    )
    assert fetched.key == key
    listed = await vault.client_keys.ListClientKeys(
        ck_pb2.ListClientKeysRequest(), metadata=admin()
    )
    assert key in listed.keys
    assert created.secret not in str(fetched) + str(listed)


async def test_update_changes_only_the_masked_fields(vault: Vault) -> None:
    created = await vault.client_keys.CreateClientKey(
        ck_pb2.CreateClientKeyRequest(name="a", team="t1", rpm_limit=5), metadata=admin()
    )
    patch = ck_pb2.ClientKey(
        key_id=created.key.key_id, team="t2", rpm_limit=7, name="ignored", budget_usd="2"
    )
    patch.budget_period = ck_pb2.BUDGET_PERIOD_DAILY
    updated = await vault.client_keys.UpdateClientKey(
        ck_pb2.UpdateClientKeyRequest(
            key=patch,
            update_mask=field_mask_pb2.FieldMask(
                paths=["team", "rpm_limit", "budget_usd", "budget_period"]
            ),
        ),
        metadata=admin(),
    )
    key = updated.key
    assert (key.name, key.team, key.rpm_limit) == ("a", "t2", 7)
    assert (key.budget_usd, key.budget_period) == ("2.00", ck_pb2.BUDGET_PERIOD_DAILY)
    assert key.update_time.ToDatetime() >= created.key.update_time.ToDatetime()


@pytest.mark.parametrize(
    ("request_fields", "param"),
    [
        ({"budget_usd": "lots"}, "budget_usd"),
        ({"budget_usd": "-1"}, "budget_usd"),
        ({"rpm_limit": -1}, ""),
        ({"allowed_models": [""]}, "allowed_models"),
        ({"name": "n" * 201}, "name"),
    ],
)
async def test_invalid_input_is_rejected_with_invalid_argument(
    vault: Vault, request_fields: dict[str, object], param: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await vault.client_keys.CreateClientKey(
            ck_pb2.CreateClientKeyRequest(**request_fields),  # type: ignore[arg-type]
            metadata=admin(),
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert param in (caught.value.details() or "")


async def test_expiry_in_the_past_and_unknown_update_paths_are_refused(vault: Vault) -> None:
    request = ck_pb2.CreateClientKeyRequest(name="late")
    request.expire_time.FromDatetime(_future(-1))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await vault.client_keys.CreateClientKey(request, metadata=admin())
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    created = await vault.client_keys.CreateClientKey(
        ck_pb2.CreateClientKeyRequest(), metadata=admin()
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await vault.client_keys.UpdateClientKey(
            ck_pb2.UpdateClientKeyRequest(
                key=ck_pb2.ClientKey(key_id=created.key.key_id),
                update_mask=field_mask_pb2.FieldMask(paths=["prefix"]),
            ),
            metadata=admin(),
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_revoke_hides_the_key_unless_asked_and_delete_removes_it(vault: Vault) -> None:
    created = await vault.client_keys.CreateClientKey(
        ck_pb2.CreateClientKeyRequest(), metadata=admin()
    )
    key_id = created.key.key_id
    revoked = await vault.client_keys.RevokeClientKey(
        ck_pb2.RevokeClientKeyRequest(key_id=key_id), metadata=admin()
    )
    assert revoked.key.revoked and revoked.key.HasField("revoke_time")
    again = await vault.client_keys.RevokeClientKey(
        ck_pb2.RevokeClientKeyRequest(key_id=key_id), metadata=admin()
    )
    assert again.key.revoke_time == revoked.key.revoke_time  # idempotent
    active = await vault.client_keys.ListClientKeys(
        ck_pb2.ListClientKeysRequest(), metadata=admin()
    )
    assert key_id not in {k.key_id for k in active.keys}
    everything = await vault.client_keys.ListClientKeys(
        ck_pb2.ListClientKeysRequest(include_revoked=True), metadata=admin()
    )
    assert key_id in {k.key_id for k in everything.keys}

    await vault.client_keys.DeleteClientKey(
        ck_pb2.DeleteClientKeyRequest(key_id=key_id), metadata=admin()
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await vault.client_keys.GetClientKey(
            ck_pb2.GetClientKeyRequest(key_id=key_id), metadata=admin()
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert "client key" in (caught.value.details() or "")
