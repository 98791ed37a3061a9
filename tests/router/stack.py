"""An in-process router, composed exactly as `python -m services.router` composes it
(`services.router.server.compose`), in front of an in-process provider service
(or a provider double), with a key vault and a metrics service doubled by small
real servers (see peers.py). Every server listens on port 0; the demo switch is on."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass
from typing import Any

import grpc
from agentopia.v1 import client_key_service_pb2_grpc as ck_grpc
from agentopia.v1 import metrics_service_pb2_grpc as m_grpc
from agentopia.v1 import openai_compat_service_pb2_grpc as oc_grpc
from agentopia.v1 import provider_service_pb2_grpc as pv_grpc
from agentopia.v1 import routing_admin_service_pb2 as ra_pb2
from agentopia.v1 import routing_admin_service_pb2_grpc as ra_grpc
from agentopia.v1 import routing_config_service_pb2_grpc as rc_grpc
from prometheus_client import CollectorRegistry

from services.kernel.service import Lifecycle, Service
from services.provider.config import ProviderServiceConfig
from services.provider.server import compose as compose_provider
from services.router.config import RouterConfig
from services.router.server import compose as compose_router
from tests.router.peers import (
    ADMIN_KEY,
    CLIENT_KEY,
    KeyVaultDouble,
    MetricsDouble,
    ProviderDouble,
    serve_peer,
)

__all__ = [
    "ADMIN_KEY",
    "CLIENT_KEY",
    "RouterStack",
    "composing",
    "peers",
    "provider_double",
    "provider_service",
    "router_env",
    "router_in_front_of",
    "router_stack",
    "started",
]

_DEMO = {"AGENTOPIA_DEMO": "true"}


@dataclass
class RouterStack:
    channel: grpc.aio.Channel  # to the router
    stub: oc_grpc.OpenAICompatServiceAsyncStub
    admin: ra_grpc.RoutingAdminServiceAsyncStub
    keyvault: KeyVaultDouble
    metrics: MetricsDouble

    @property
    def admin_auth(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {ADMIN_KEY}"),)

    async def deployments(self) -> list[ra_pb2.DeploymentHealth]:
        """This router's live deployment state, through its admin API."""
        reply = await self.admin.ListDeploymentHealth(
            ra_pb2.ListDeploymentHealthRequest(), metadata=self.admin_auth, timeout=10
        )
        return list(reply.deployments)


async def composing(compose: Awaitable[Service], life: Lifecycle) -> Service:
    """Await a compose(); on failure close what it had opened, and re-raise."""
    try:
        return await compose
    except BaseException:
        await life.close()
        raise


@contextlib.asynccontextmanager
async def started(service: Service, life: Lifecycle) -> AsyncIterator[int]:
    """Start a composed service on port 0 (ready, then SERVING); stop and close after."""
    try:
        port = await service.host.start("127.0.0.1:0")
        try:
            if service.ready is not None:
                await service.ready()
            await service.host.mark_serving()
            yield port
        finally:
            await service.host.stop(0)
    finally:
        await life.close()


def router_env(
    *, provider: str, keyvault: str, metrics: str, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The router's environment for an in-process stack (probes and /metrics off)."""
    return {
        **_DEMO,
        "AGENTOPIA_PROVIDER_TARGET": provider,
        "AGENTOPIA_KEYVAULT_TARGET": keyvault,
        "AGENTOPIA_METRICS_TARGET": metrics,
        "AGENTOPIA_HEALTH_CHECK_INTERVAL_S": "0",
        "AGENTOPIA_PROMETHEUS_PORT": "0",
        **(extra or {}),
    }


@contextlib.asynccontextmanager
async def peers(keyvault: KeyVaultDouble, metrics: MetricsDouble) -> AsyncIterator[tuple[str, str]]:
    """The key vault and metrics doubles, serving; yields their targets."""
    vault: list[tuple[str, Any]] = [
        (
            "agentopia.v1.ClientKeyService",
            lambda server: ck_grpc.add_ClientKeyServiceServicer_to_server(keyvault, server),
        ),
        (
            "agentopia.v1.RoutingConfigService",
            lambda server: rc_grpc.add_RoutingConfigServiceServicer_to_server(keyvault, server),
        ),
    ]
    usage = (
        "agentopia.v1.MetricsService",
        lambda server: m_grpc.add_MetricsServiceServicer_to_server(metrics, server),
    )
    async with serve_peer("keyvault", *vault) as kv, serve_peer("metrics", usage) as m:
        yield kv.target, m.target


@contextlib.asynccontextmanager
async def provider_service(env: Mapping[str, str]) -> AsyncIterator[str]:
    """The provider service, composed in-process (demo on); yields its target."""
    config = ProviderServiceConfig.from_env({**_DEMO, "AGENTOPIA_PROMETHEUS_PORT": "0", **env})
    life = Lifecycle()
    service = await composing(compose_provider(config, life), life)
    async with started(service, life) as port:
        yield f"127.0.0.1:{port}"


@contextlib.asynccontextmanager
async def provider_double(double: ProviderDouble) -> AsyncIterator[str]:
    """A ProviderService double, serving; yields its target."""
    register = (
        "agentopia.v1.ProviderService",
        lambda server: pv_grpc.add_ProviderServiceServicer_to_server(double, server),
    )
    async with serve_peer("provider", register) as peer:
        yield peer.target


@contextlib.asynccontextmanager
async def router_stack(
    provider_env: Mapping[str, str], extra_router_env: Mapping[str, str] | None = None
) -> AsyncIterator[RouterStack]:
    """The router in front of the real provider service (its environment: `provider_env`)."""
    async with (
        provider_service(provider_env) as provider_target,
        router_in_front_of(provider_target, extra_router_env) as stack,
    ):
        yield stack


@contextlib.asynccontextmanager
async def router_in_front_of(
    provider_target: str, extra_router_env: Mapping[str, str] | None = None
) -> AsyncIterator[RouterStack]:
    """The router, composed and SERVING, calling the provider service at `provider_target`."""
    keyvault, metrics = KeyVaultDouble(), MetricsDouble()
    async with peers(keyvault, metrics) as (keyvault_target, metrics_target):
        env = router_env(
            provider=provider_target,
            keyvault=keyvault_target,
            metrics=metrics_target,
            extra=extra_router_env,
        )
        life = Lifecycle()
        composed = compose_router(
            RouterConfig.from_env(env), life, metrics_registry=CollectorRegistry()
        )
        service = await composing(composed, life)
        async with (
            started(service, life) as port,
            grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel,
        ):
            yield RouterStack(
                channel,
                oc_grpc.OpenAICompatServiceStub(channel),
                ra_grpc.RoutingAdminServiceStub(channel),
                keyvault,
                metrics,
            )
