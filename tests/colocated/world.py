"""The colocated process composed in-process (`services.colocated.server.compose`,
as `python -m services.colocated` composes it) between a real key vault (SQLite,
in-process) and the OpenAI emulator, with a metrics double; every server on port 0.

The key vault holds one OpenAI key before the process starts, so the provider side
leases it at start-up. The router's AGENTOPIA_PROVIDER_TARGET is a port that refuses
connections: an answer can only come through the in-process contract. The key vault
reaches the process's ProviderService through a relay connected once the process
has its port (each needs the other's address)."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
from agentopia.v1 import metrics_service_pb2_grpc as m_grpc
from agentopia.v1 import provider_key_service_pb2 as pk_pb2
from agentopia.v1 import provider_key_service_pb2_grpc as pk_grpc
from prometheus_client import CollectorRegistry

from keyvault.config import KeyVaultConfig
from services.colocated.config import ColocatedConfig
from services.colocated.server import compose
from services.kernel.service import Lifecycle
from tests.emulators.openai_compat import OpenAICompatEmulator
from tests.keyvault.running import RunningKeyVault, start
from tests.router.peers import MetricsDouble, serve_peer
from tests.router.stack import composing, started
from tests.support.identity import identity_env
from tests.support.ports import refused_port
from tests.support.relay import unix_relay

__all__ = ["ADMIN", "World", "colocated_world"]

SERVICE_TOKEN = "svc-colocated-tests-" + "t" * 24
ADMIN_KEY = "sk-agp-colocated-tests-admin-" + "x" * 16
ADMIN = (("authorization", f"Bearer {ADMIN_KEY}"),)


@dataclass
class World:
    channel: grpc.aio.Channel  # to the colocated process
    vault: pk_grpc.ProviderKeyServiceAsyncStub  # the key vault's provider-key admin API
    key_id: str  # the OpenAI key the key vault held before the process started
    secret: str
    emulator: OpenAICompatEmulator
    metrics: MetricsDouble
    prometheus_port: int


def _vault_config(
    data: Path, provider_target: str, extra: dict[str, str] | None = None
) -> KeyVaultConfig:
    return KeyVaultConfig.from_env(
        {
            **(extra or {}),
            "AGENTOPIA_DATA_DIR": str(data),
            "AGENTOPIA_KEYVAULT_DATABASE_URL": f"sqlite:///{data / 'keyvault.db'}",
            "AGENTOPIA_ADMIN_KEY": ADMIN_KEY,
            "AGENTOPIA_KEYVAULT_SERVICE_TOKEN": SERVICE_TOKEN,
            "AGENTOPIA_KEYVAULT_POLL_INTERVAL_MS": "20",
            "AGENTOPIA_KEYVAULT_SWEEP_S": "0.05",
            "AGENTOPIA_PROMETHEUS_PORT": "0",
            "AGENTOPIA_PROVIDER_TARGET": provider_target,
        }
    )


@contextlib.asynccontextmanager
async def _vault(
    data: Path, provider_target: str, extra: dict[str, str] | None = None
) -> AsyncIterator[RunningKeyVault]:
    running = await start(_vault_config(data, provider_target, extra))
    try:
        yield running
    finally:
        await running.stop()


def colocated_env(
    *, keyvault: str, metrics: str, provider: str, upstream: str, prometheus_file: Path
) -> dict[str, str]:
    return {
        "AGENTOPIA_DEMO": "true",
        "AGENTOPIA_KEYVAULT_TARGET": keyvault,
        "AGENTOPIA_KEYVAULT_SERVICE_TOKEN": SERVICE_TOKEN,
        "AGENTOPIA_METRICS_TARGET": metrics,
        "AGENTOPIA_PROVIDER_TARGET": provider,
        "AGENTOPIA_HEALTH_CHECK_INTERVAL_S": "0",
        "AGENTOPIA_PROMETHEUS_PORT": "any",
        "AGENTOPIA_PROMETHEUS_PORT_FILE": str(prometheus_file),
        "OPENAI_BASE_URL": upstream,
        "OPENAI_API_KEY": "",
    }


@contextlib.asynccontextmanager
async def colocated_world(data: Path, *, identities: bool = False) -> AsyncIterator[World]:
    """Everything above, SERVING; yields handles to each part. With `identities`, the
    key vault and the colocated process check workload identities (as the chart runs
    them), the process presenting `colocated`'s."""
    vault_extra = identity_env("keyvault") if identities else {}
    secret = "sk-proj-colocated-" + secrets.token_urlsafe(24)
    metrics = MetricsDouble()
    usage = (
        "agentopia.v1.MetricsService",
        lambda server: m_grpc.add_MetricsServiceServicer_to_server(metrics, server),
    )
    async with (
        OpenAICompatEmulator("openai", api_keys=(secret,)) as emulator,
        serve_peer("metrics", usage) as metrics_peer,
    ):
        with unix_relay("colocated") as to_process, refused_port() as nobody:
            async with (
                _vault(data, to_process.target, vault_extra) as running,
                grpc.aio.insecure_channel(running.target) as vault_channel,
            ):
                vault = pk_grpc.ProviderKeyServiceStub(vault_channel)
                created = await vault.CreateProviderKey(
                    pk_pb2.CreateProviderKeyRequest(provider="openai", secret=secret),
                    metadata=ADMIN,
                )
                prometheus_file = data / "prometheus.port"
                env = colocated_env(
                    keyvault=running.target,
                    metrics=metrics_peer.target,
                    provider=f"127.0.0.1:{nobody}",
                    upstream=emulator.base_url,
                    prometheus_file=prometheus_file,
                )
                if identities:
                    env.update(identity_env("colocated"))
                life = Lifecycle()
                composed = compose(
                    ColocatedConfig.from_env(env), life, metrics_registry=CollectorRegistry()
                )
                service = await composing(composed, life)
                async with (
                    started(service, life) as port,
                    grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel,
                ):
                    to_process.forward_to(port)
                    yield World(
                        channel=channel,
                        vault=vault,
                        key_id=created.key.key_id,
                        secret=secret,
                        emulator=emulator,
                        metrics=metrics,
                        prometheus_port=int(prometheus_file.read_text()),
                    )
