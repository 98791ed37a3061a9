"""Provider keys are imported from Secret Manager only out of allow-listed secrets:
ids with AGENTOPIA_SECRET_IMPORT_PREFIX, never the key-encryption key's secret."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from agentopia.v1 import provider_key_service_pb2 as pk_pb2

from keyvault.config import KeyVaultConfig
from services.kernel.errors import GatewayError
from tests.keyvault.conftest import Vault, admin
from tests.keyvault.fake_secret_manager import FakeSecretManager

KEK = "projects/p/secrets/agentopia-provider-kek"  # inside the prefix, still refused


@pytest.fixture
async def vault(
    start_vault: Callable[..., Any],
    make_config: Callable[..., KeyVaultConfig],
    fake_sm: FakeSecretManager,
) -> Vault:
    fake_sm.add_version(KEK, os.urandom(32))
    for name in ("agentopia-provider-openai", "database-password"):
        fake_sm.add_version(f"projects/p/secrets/{name}", b"sk-sm-" + os.urandom(12).hex().encode())
    config = make_config(
        AGENTOPIA_SECRET_MANAGER_ENDPOINT=fake_sm.endpoint,
        AGENTOPIA_KEK_SOURCE="secret-manager",
        AGENTOPIA_KEK_SECRET=KEK,
    )
    started: Vault = await start_vault(config)
    return started


async def _import(vault: Vault, version: str) -> pk_pb2.CreateProviderKeyResponse:
    reply: pk_pb2.CreateProviderKeyResponse = await vault.provider_keys.CreateProviderKey(
        pk_pb2.CreateProviderKeyRequest(provider="mock", secret_version=version),
        metadata=admin(),
    )
    return reply


async def test_an_allow_listed_secret_is_imported(vault: Vault) -> None:
    created = await _import(vault, "projects/p/secrets/agentopia-provider-openai/versions/1")
    assert created.key.secret_version.endswith("/versions/1")


@pytest.mark.parametrize(
    "version",
    [
        "projects/p/secrets/database-password/versions/1",
        f"{KEK}/versions/latest",
        f"{KEK}/versions/1",
    ],
)
async def test_other_secrets_and_the_kek_are_refused(vault: Vault, version: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _import(vault, version)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert GatewayError.from_rpc_error(caught.value).code == "secret_import_not_allowed"
