"""A provider key created through the key vault's admin API — with no OPENAI_API_KEY
anywhere — is leased to the provider service and carries a client's request, sent
with the official SDK through the real edge, to the OpenAI emulator; its outcome comes
back to the key vault, and the secret appears in no service's log."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import grpc
import openai
import pytest
from agentopia.v1 import metrics_service_pb2 as m_pb2
from agentopia.v1 import metrics_service_pb2_grpc as m_grpc
from agentopia.v1 import provider_key_service_pb2 as kv_pb2
from agentopia.v1 import provider_key_service_pb2_grpc as kv_grpc
from agentopia.v1 import provider_service_pb2 as pv_pb2
from agentopia.v1 import provider_service_pb2_grpc as pv_grpc

from tests.emulators.openai_compat import OpenAICompatEmulator
from tests.support.edge import run_edge
from tests.support.mesh import Mesh, run_mesh

pytestmark = pytest.mark.e2e

SAFETY_S = 60.0  # hang guard, never an assertion


async def _until_openai_is_configured(mesh: Mesh) -> None:
    async with grpc.aio.insecure_channel(mesh.target("provider")) as channel:
        stub = pv_grpc.ProviderServiceStub(channel)
        while True:
            reply = await stub.ListProviders(pv_pb2.ListProvidersRequest(), timeout=5)
            if {p.name: p.configured for p in reply.providers}.get("openai"):
                return
            await asyncio.sleep(0.05)


async def _requests_counted(
    stub: kv_grpc.ProviderKeyServiceAsyncStub, key_id: str, admin: str
) -> None:
    request = kv_pb2.GetProviderKeyUsageRequest(key_id=key_id)
    while True:
        usage = await stub.GetProviderKeyUsage(
            request, metadata=(("authorization", f"Bearer {admin}"),), timeout=5
        )
        if usage.total.requests >= 1:
            return
        await asyncio.sleep(0.05)


async def _live_key_health(mesh: Mesh, key_id: str) -> int:
    """The provider service reports its leased keys to the metrics live stream."""
    async with grpc.aio.insecure_channel(mesh.target("metrics")) as channel:
        frames = m_grpc.MetricsServiceStub(channel).StreamLiveStats(
            m_pb2.StreamLiveStatsRequest(),
            metadata=(("authorization", f"Bearer {mesh.admin_key}"),),
        )
        async for frame in frames:
            for key in frame.stats.keys:
                if key.key_id == key_id:
                    frames.cancel()
                    return key.health
    raise AssertionError("the live stream ended")


async def test_a_vault_key_reaches_the_upstream(tmp_path: Path, topology: str) -> None:
    secret = "sk-proj-vault-" + secrets.token_urlsafe(24)
    async with OpenAICompatEmulator("openai", api_keys=(secret,)) as upstream:
        # OPENAI_API_KEY empty: no environment key, even if the caller's shell has one.
        env = {"OPENAI_BASE_URL": upstream.base_url, "OPENAI_API_KEY": ""}
        async with run_mesh(tmp_path / "mesh", env, topology=topology) as mesh:
            admin = (("authorization", f"Bearer {mesh.admin_key}"),)
            async with grpc.aio.insecure_channel(mesh.target("keyvault")) as channel:
                vault = kv_grpc.ProviderKeyServiceStub(channel)
                created = await vault.CreateProviderKey(
                    kv_pb2.CreateProviderKeyRequest(provider="openai", label="e2e", secret=secret),
                    metadata=admin,
                )
                key_id = created.key.key_id
                await asyncio.wait_for(_until_openai_is_configured(mesh), SAFETY_S)
                # A router started now sees openai configured at once (the first one
                # re-reads ListProviders only every 30 s).
                router = await mesh.start_router("router-2")
                async with (
                    run_edge(
                        router_port=router.port,
                        keyvault_port=mesh.services["keyvault"].port,
                        metrics_port=mesh.services["metrics"].port,
                    ) as edge,
                    openai.AsyncOpenAI(
                        base_url=edge.openai_base_url, api_key=mesh.admin_key, max_retries=0
                    ) as client,
                ):
                    reply = await client.chat.completions.create(
                        model="openai/gpt-4o-mini",
                        messages=[{"role": "user", "content": "Hello"}],
                    )
                assert reply.choices[0].message.content
                assert upstream.requests[-1].headers["authorization"] == f"Bearer {secret}"
                await asyncio.wait_for(_requests_counted(vault, key_id, mesh.admin_key), SAFETY_S)
                health = await asyncio.wait_for(_live_key_health(mesh, key_id), SAFETY_S)
                assert health == m_pb2.KEY_HEALTH_HEALTHY
        for service in mesh.services.values():
            assert secret not in service.log.read_text(errors="replace"), service.name
