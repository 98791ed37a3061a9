"""`GET /agentopia/v1/me` (GetCallerKey): any valid key reads its own settings and
live usage — a client key that much and nothing else of the key vault's admin API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest
from agentopia.v1 import client_key_service_pb2 as ck_pb2
from agentopia.v1 import keyvault_types_pb2 as kv_types

from keyvault.config import KeyVaultConfig
from tests.keyvault.conftest import Vault, admin


async def _key(vault: Vault, role: kv_types.KeyRole.ValueType) -> ck_pb2.CreateClientKeyResponse:
    reply: ck_pb2.CreateClientKeyResponse = await vault.client_keys.CreateClientKey(
        ck_pb2.CreateClientKeyRequest(
            name=f"k{role}",
            role=role,
            allowed_models=["mock/echo"],
            rpm_limit=60,
            budget_usd="5.00",
            allowed_parameters=["store"],
        ),
        metadata=admin(),
    )
    return reply


@pytest.mark.parametrize("role", [kv_types.KEY_ROLE_CLIENT, kv_types.KEY_ROLE_VIEWER])
async def test_a_key_reads_itself(vault: Vault, role: kv_types.KeyRole.ValueType) -> None:
    created = await _key(vault, role)
    me = await vault.client_keys.GetCallerKey(
        ck_pb2.GetCallerKeyRequest(), metadata=admin(created.secret)
    )
    assert (me.key.key_id, me.key.name, me.key.role) == (created.key.key_id, f"k{role}", role)
    assert list(me.key.allowed_models) == ["mock/echo"]
    assert (me.key.rpm_limit, me.key.budget_usd) == (60, "5.00")
    assert list(me.key.allowed_parameters) == ["store"]
    assert me.usage.key_id == created.key.key_id
    assert created.secret not in str(me)


async def test_a_client_key_reads_nothing_else(vault: Vault) -> None:
    created = await _key(vault, kv_types.KEY_ROLE_CLIENT)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await vault.client_keys.GetClientKeyUsage(
            ck_pb2.GetClientKeyUsageRequest(key_id=created.key.key_id),
            metadata=admin(created.secret),
        )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_me_needs_a_key(vault: Vault) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await vault.client_keys.GetCallerKey(ck_pb2.GetCallerKeyRequest())
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_without_a_shared_store_a_key_still_reads_its_settings(
    start_vault: Callable[..., Any], make_config: Callable[..., KeyVaultConfig]
) -> None:
    """`make run` has no Redis: each router counts in its own memory and nobody holds
    a total, so /me answers the key's settings without counters instead of failing."""
    vault: Vault = await start_vault(make_config(AGENTOPIA_LIMITS_REDIS_URL=""))
    created = await _key(vault, kv_types.KEY_ROLE_CLIENT)
    me = await vault.client_keys.GetCallerKey(
        ck_pb2.GetCallerKeyRequest(), metadata=admin(created.secret)
    )
    assert me.key.key_id == created.key.key_id
    assert not me.HasField("usage")
