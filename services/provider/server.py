"""Composition root of the provider service: config → registry's providers → pooled
clients and adapters (built before the port is bound, so an adapter's bad settings
end the process with one line) → servicer → ServiceHost. With the key vault, the
provider-key lease runs in the background and the service is SERVING once the first
lease arrived (or `lease_wait_s` passed: calls then use the environment's keys).

`build` is the provider side without a host of its own (the servicer, its runtime and
its readiness), which the `colocated` topology hosts beside the router; `assemble`
puts it on a ServiceHost of its own, as `python -m services.provider` serves it."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import grpc
from agentopia.v1 import metrics_service_pb2 as m_pb2
from agentopia.v1 import provider_service_pb2_grpc
from prometheus_client import REGISTRY, CollectorRegistry

from metrics.client import UsageRecorder
from services.kernel.exposition import start_settings
from services.kernel.hosting import ServiceHost
from services.kernel.service import Lifecycle, Service
from services.provider.config import ProviderServiceConfig
from services.provider.instruments import KeyHealthCollector
from services.provider.runtime import ProviderRuntime
from services.provider.servicer import SERVICE_NAME, ProviderServicer

__all__ = ["SERVICE_NAME", "Assembled", "ProviderSide", "assemble", "build", "compose"]


@dataclass(frozen=True, slots=True)
class Assembled:
    """The composed service and its runtime (in-process tests look inside it)."""

    service: Service
    runtime: ProviderRuntime


@dataclass(frozen=True, slots=True)
class ProviderSide:
    """The provider service without a host: what a composition root registers, where
    its instruments live, and when it is ready (None: at once)."""

    servicer: ProviderServicer
    runtime: ProviderRuntime
    ready: Callable[[], Awaitable[None]] | None

    def register(self, server: grpc.aio.Server) -> None:
        """Register the servicer on a server (or on an in-process channel)."""
        provider_service_pb2_grpc.add_ProviderServiceServicer_to_server(self.servicer, server)


async def compose(config: ProviderServiceConfig, life: Lifecycle) -> Service:
    return (await assemble(config, life)).service


async def assemble(config: ProviderServiceConfig, life: Lifecycle) -> Assembled:
    side = await build(config, life)
    host = ServiceHost(
        "provider", max_message_bytes=config.max_message_bytes, identity=config.identity
    )
    host.add(SERVICE_NAME, side.register)
    exposition = start_settings(config.exposition)
    if exposition is not None:
        life.on_close(exposition.close)
    service = Service(host, config.listen, ready=side.ready, grace_seconds=config.grace_s)
    return Assembled(service, side.runtime)


async def build(
    config: ProviderServiceConfig,
    life: Lifecycle,
    *,
    metrics_registry: CollectorRegistry = REGISTRY,
) -> ProviderSide:
    """The runtime started (adapters built: a bad setting raises ConfigError here), the
    leased keys' health registered in `metrics_registry` (served by whoever exposes
    it), and with the key vault the lease following in the background."""
    runtime = ProviderRuntime(config)
    life.on_close(runtime.close)
    await runtime.start()
    servicer = ProviderServicer(runtime)
    _register_key_health(runtime, metrics_registry, life)
    lease = runtime.lease
    if lease is None:
        return ProviderSide(servicer, runtime, ready=None)
    life.spawn(lease.run(), "provider-key lease")
    _report_key_health(config, runtime, life)

    async def ready() -> None:
        await lease.wait_ready()

    return ProviderSide(servicer, runtime, ready=ready)


def _register_key_health(
    runtime: ProviderRuntime, registry: CollectorRegistry, life: Lifecycle
) -> None:
    """The leased keys' health on /metrics, read at scrape time."""
    collector = KeyHealthCollector(runtime.key_health)
    registry.register(collector)
    life.on_close(lambda: registry.unregister(collector))


def _report_key_health(
    config: ProviderServiceConfig, runtime: ProviderRuntime, life: Lifecycle
) -> None:
    """The leased keys' health, sent to the metrics service's live stream every few
    seconds (health only: the router sends the usage events)."""
    reporter = f"provider@{socket.gethostname()}"

    def report() -> m_pb2.HealthReport:
        message = m_pb2.HealthReport(reporter=reporter)
        message.time.GetCurrentTime()
        for provider, key_id, health in runtime.key_health():
            message.keys.add(provider=provider, key_id=key_id, health=health)
        return message

    recorder = UsageRecorder(
        config.metrics_target, health_source=report, flush_interval=5.0, identity=config.identity
    )
    recorder.start()
    life.on_close(recorder.aclose)
