"""ValidateProviderKey: the key vault asks a validator (by default the provider service,
which holds the leased key) and records the result; an invalid key is disabled."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import pytest
from agentopia.v1 import provider_key_service_pb2 as pk_pb2
from agentopia.v1 import provider_service_pb2 as pv_pb2
from agentopia.v1 import provider_service_pb2_grpc as pv_grpc

from keyvault.config import KeyVaultConfig
from keyvault.provider_keys.records import ProviderKeyRecord
from keyvault.provider_keys.validation import ProviderServiceValidator, Validation
from services.kernel.errors import GatewayError
from tests.keyvault.conftest import Vault, admin


class FakeProviderService(pv_grpc.ProviderServiceServicer):
    """Accepts one credential id; answers like an upstream 401 for any other."""

    def __init__(self) -> None:
        self.good: set[str] = set()
        self.requests: list[pv_pb2.GenerateRequest] = []

    async def Generate(
        self, request: pv_pb2.GenerateRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pv_pb2.GenerateResponse:
        self.requests.append(request)
        if request.invocation.credential_id in self.good:
            return pv_pb2.GenerateResponse(response_json=b"{}")
        await GatewayError(
            grpc.StatusCode.UNAUTHENTICATED,
            "invalid_provider_key",
            "The provider rejected the credential.",
            metadata={"upstream_status": "401", "provider": request.invocation.provider},
        ).abort(context)


@pytest.fixture
async def provider() -> AsyncIterator[tuple[FakeProviderService, str]]:
    fake = FakeProviderService()  # type: ignore[abstract]  # the stubs' ABC only
    server = grpc.aio.server()
    pv_grpc.add_ProviderServiceServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield fake, f"127.0.0.1:{port}"
    await server.stop(0)


async def _key(vault: Vault) -> str:
    created = await vault.provider_keys.CreateProviderKey(
        pk_pb2.CreateProviderKeyRequest(provider="mock", secret="sk-" + secrets.token_hex(16)),
        metadata=admin(),
    )
    return created.key.key_id


async def test_validation_through_the_provider_service(
    start_vault: Callable[..., Any],
    make_config: Callable[..., KeyVaultConfig],
    provider: tuple[FakeProviderService, str],
) -> None:
    fake, target = provider
    vault: Vault = await start_vault(make_config(AGENTOPIA_PROVIDER_TARGET=target))
    good, bad = await _key(vault), await _key(vault)
    fake.good.add(good)

    ok = await vault.provider_keys.ValidateProviderKey(
        pk_pb2.ValidateProviderKeyRequest(key_id=good, model="echo-1"), metadata=admin()
    )
    assert (ok.valid, ok.result, ok.upstream_status) == (True, "valid", 200)
    assert ok.key.health.last_validate_result == "valid"
    invocation = fake.requests[0].invocation
    assert (invocation.provider, invocation.upstream_model, invocation.credential_id) == (
        "mock",
        "echo-1",
        good,
    )

    rejected = await vault.provider_keys.ValidateProviderKey(
        pk_pb2.ValidateProviderKeyRequest(key_id=bad, model="echo-1"), metadata=admin()
    )
    assert (rejected.valid, rejected.result, rejected.upstream_status) == (False, "invalid", 401)
    assert rejected.key.state == pk_pb2.PROVIDER_KEY_STATE_DISABLED
    assert rejected.key.health.flagged


class Inconclusive:
    async def validate(self, key: ProviderKeyRecord, model: str) -> Validation:
        return Validation("error", 503, "Inconclusive: provider down")


async def test_an_inconclusive_check_leaves_the_key_alone(
    start_vault: Callable[..., Any], make_config: Callable[..., KeyVaultConfig]
) -> None:
    vault: Vault = await start_vault(make_config(), validator=Inconclusive())
    key_id = await _key(vault)
    result = await vault.provider_keys.ValidateProviderKey(
        pk_pb2.ValidateProviderKeyRequest(key_id=key_id, model="m"), metadata=admin()
    )
    assert (result.valid, result.result) == (False, "error")
    assert result.key.state == pk_pb2.PROVIDER_KEY_STATE_ACTIVE
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await vault.provider_keys.ValidateProviderKey(
            pk_pb2.ValidateProviderKeyRequest(key_id=key_id), metadata=admin()
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_the_validator_maps_a_rate_limit_to_valid() -> None:
    class RateLimited(pv_grpc.ProviderServiceServicer):
        async def Generate(
            self, request: pv_pb2.GenerateRequest, context: grpc.aio.ServicerContext[Any, Any]
        ) -> pv_pb2.GenerateResponse:
            await GatewayError(
                grpc.StatusCode.RESOURCE_EXHAUSTED, "rate_limited", "slow down", retry_after_s=2
            ).abort(context)

    server = grpc.aio.server()
    pv_grpc.add_ProviderServiceServicer_to_server(RateLimited(), server)  # type: ignore[abstract]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        record = ProviderKeyRecord(
            "pkey_x", "mock", "", "abcd", 1, pk_pb2.PROVIDER_KEY_STATE_ACTIVE,  # type: ignore[arg-type]
            None, None,  # type: ignore[arg-type]
        )  # fmt: skip
        result = await ProviderServiceValidator(channel).validate(record, "m")
        assert (result.result, result.upstream_status) == ("rate_limited", 429)
    finally:
        await channel.close(None)
        await server.stop(0)
