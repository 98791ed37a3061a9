"""A real key vault (in-process, SQLite) + the provider service following its lease + the
OpenAI emulator, for the provider-key tests."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from agentopia.v1 import provider_key_service_pb2 as kv_pb2
from agentopia.v1 import provider_key_service_pb2_grpc as kv_grpc
from agentopia.v1 import provider_service_pb2 as pv_pb2

from keyvault.client.provider_keys import KeySlot, ProviderKeyLease
from keyvault.config import KeyVaultConfig
from keyvault.provider_keys.records import ProviderKeyRecord
from keyvault.provider_keys.validation import ProviderServiceValidator, Validation
from services.kernel.errors import GatewayError
from services.provider.adapters.openai import PROVIDER as OPENAI
from tests.emulators.openai_compat import OpenAICompatEmulator
from tests.keyvault.running import RunningKeyVault, start
from tests.provider.core_support import SAFETY_S, Running, invocation, provider_service

SERVICE_TOKEN = "svc-provider-tests-" + "t" * 24
ADMIN_KEY = "sk-agp-provider-tests-admin-" + "x" * 16
ADMIN = (("authorization", f"Bearer {ADMIN_KEY}"),)
MODEL = "gpt-4o-mini"
BODY = {"model": MODEL, "messages": [{"role": "user", "content": "Hello"}]}


def vault_config(data: Path) -> KeyVaultConfig:
    return KeyVaultConfig.from_env(
        {
            "AGENTOPIA_DATA_DIR": str(data),
            "AGENTOPIA_KEYVAULT_DATABASE_URL": f"sqlite:///{data / 'keyvault.db'}",
            "AGENTOPIA_ADMIN_KEY": ADMIN_KEY,
            "AGENTOPIA_KEYVAULT_SERVICE_TOKEN": SERVICE_TOKEN,
            "AGENTOPIA_KEYVAULT_POLL_INTERVAL_MS": "20",
            "AGENTOPIA_KEYVAULT_SWEEP_S": "0.05",
            "AGENTOPIA_PROMETHEUS_PORT": "0",
            "AGENTOPIA_PROVIDER_TARGET": "127.0.0.1:9",
        }
    )


async def until(check: Callable[[], bool | Awaitable[bool]]) -> None:
    """Poll until `check` holds (a hang guard, never a timed assertion)."""

    async def loop() -> None:
        while True:
            result = check()
            if result if isinstance(result, bool) else await result:
                return
            await asyncio.sleep(0.02)

    await asyncio.wait_for(loop(), SAFETY_S)


@dataclass
class KeyWorld:
    data: Path
    vault: RunningKeyVault
    kv: kv_grpc.ProviderKeyServiceAsyncStub
    emulator: OpenAICompatEmulator
    service: Running
    created: list[str] = field(default_factory=list)  # every secret, for the log checks

    @property
    def keys(self) -> ProviderKeyLease:
        found = self.service.runtime.get("openai").keys
        assert found is not None
        return found

    def slot(self, key_id: str) -> KeySlot | None:
        return self.keys.index.slot(key_id)

    def new_secret(self, accept: bool = True) -> str:
        secret = "sk-proj-" + secrets.token_urlsafe(24)
        self.created.append(secret)
        if accept:
            self.emulator.api_keys.add(secret)
        return secret

    async def add_key(self, weight: int = 1, label: str = "", accept: bool = True) -> str:
        created = await self.kv.CreateProviderKey(
            kv_pb2.CreateProviderKeyRequest(
                provider="openai", label=label, secret=self.new_secret(accept), weight=weight
            ),
            metadata=ADMIN,
        )
        key_id = created.key.key_id
        await until(lambda: self.slot(key_id) is not None)
        return key_id

    async def key(self, key_id: str) -> kv_pb2.ProviderKey:
        reply = await self.kv.GetProviderKey(
            kv_pb2.GetProviderKeyRequest(key_id=key_id), metadata=ADMIN
        )
        return reply.key

    async def usage(self, key_id: str) -> kv_pb2.ProviderKeyUsageRow:
        reply = await self.kv.GetProviderKeyUsage(
            kv_pb2.GetProviderKeyUsageRequest(key_id=key_id), metadata=ADMIN
        )
        return reply.total

    async def chat(self, credential_id: str = "", **body: Any) -> pv_pb2.GenerateResponse:
        request = pv_pb2.GenerateRequest(
            invocation=invocation(
                "openai", {**BODY, **body}, model=MODEL, credential_id=credential_id
            )
        )
        return await self.service.stub.Generate(request, timeout=SAFETY_S)

    async def stream(self, credential_id: str = "") -> list[pv_pb2.StreamGenerateResponse]:
        request = pv_pb2.StreamGenerateRequest(
            invocation=invocation(
                "openai", {**BODY, "stream": True}, model=MODEL, credential_id=credential_id
            )
        )
        return [item async for item in self.service.stub.StreamGenerate(request, timeout=SAFETY_S)]

    def secret_of(self, request_index: int) -> str:
        return (
            self.emulator.requests[request_index].headers["authorization"].removeprefix("Bearer ")
        )

    def used(self, since: int = 0) -> collections.Counter[str]:
        """Upstream requests per secret, from the `since`-th on."""
        return collections.Counter(
            self.secret_of(i) for i in range(since, len(self.emulator.requests))
        )


def grpc_error(error: grpc.aio.AioRpcError) -> GatewayError:
    return GatewayError.from_rpc_error(error)


class _ToProvider:
    """ValidateProviderKey's way to the provider service, which starts after the key
    vault (it follows the vault's lease), once its own port is known."""

    def __init__(self) -> None:
        self.validator: ProviderServiceValidator | None = None

    async def validate(self, key: ProviderKeyRecord, model: str) -> Validation:
        assert self.validator is not None, "the provider service is not up yet"
        return await self.validator.validate(key, model)


@contextlib.asynccontextmanager
async def key_world(
    data: Path, env: dict[str, str] | None = None, api_keys: Iterable[str] = ()
) -> AsyncIterator[KeyWorld]:
    to_provider = _ToProvider()
    running = await start(vault_config(data), validator=to_provider)
    channel = grpc.aio.insecure_channel(running.target)
    world: KeyWorld | None = None
    try:
        async with OpenAICompatEmulator("openai", api_keys=tuple(api_keys)) as emulator:
            provider_env = {
                "OPENAI_BASE_URL": emulator.base_url,
                "AGENTOPIA_KEYVAULT_TARGET": running.target,
                "AGENTOPIA_KEYVAULT_SERVICE_TOKEN": SERVICE_TOKEN,
                "AGENTOPIA_PROVIDER_KEY_REPORT_INTERVAL_S": "0.05",
                **(env or {}),
            }
            async with provider_service([OPENAI], provider_env) as service:
                to_provider.validator = ProviderServiceValidator(service.channel)
                stub = kv_grpc.ProviderKeyServiceStub(channel)
                world = KeyWorld(data, running, stub, emulator, service)
                yield world
    finally:
        await channel.close(None)
        await (world.vault if world is not None else running).stop()
