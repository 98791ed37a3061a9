"""Composition root of the provider service: config → registry's providers → pooled
clients and adapters (built before the port is bound, so an adapter's bad settings
end the process with one line) → servicer → ServiceHost. With the key vault, the
provider-key lease runs in the background and the service is SERVING once the first
lease arrived (or `lease_wait_s` passed: calls then use the environment's keys)."""

from __future__ import annotations

import socket
from dataclasses import dataclass

import grpc
from agentopia.v1 import metrics_service_pb2 as m_pb2
from agentopia.v1 import provider_service_pb2_grpc
from prometheus_client import REGISTRY

from metrics.client import UsageRecorder
from services.kernel.exposition import start_settings
from services.kernel.hosting import ServiceHost
from services.kernel.service import Lifecycle, Service
from services.provider.config import ProviderServiceConfig
from services.provider.instruments import KeyHealthCollector
from services.provider.runtime import ProviderRuntime
from services.provider.servicer import SERVICE_NAME, ProviderServicer

__all__ = ["Assembled", "assemble", "compose"]


@dataclass(frozen=True, slots=True)
class Assembled:
    """The composed service and its runtime (in-process tests look inside it)."""

    service: Service
    runtime: ProviderRuntime


async def compose(config: ProviderServiceConfig, life: Lifecycle) -> Service:
    return (await assemble(config, life)).service


async def assemble(config: ProviderServiceConfig, life: Lifecycle) -> Assembled:
    runtime = ProviderRuntime(config)
    life.on_close(runtime.close)
    await runtime.start()
    host = ServiceHost("provider", max_message_bytes=config.max_message_bytes)
    servicer = ProviderServicer(runtime)

    def register(server: grpc.aio.Server) -> None:
        provider_service_pb2_grpc.add_ProviderServiceServicer_to_server(servicer, server)

    host.add(SERVICE_NAME, register)
    _expose(config, runtime, life)
    lease = runtime.lease
    if lease is None:
        return Assembled(Service(host, config.listen, grace_seconds=config.grace_s), runtime)
    life.spawn(lease.run(), "provider-key lease")
    _report_key_health(config, runtime, life)

    async def ready() -> None:
        await lease.wait_ready()

    service = Service(host, config.listen, ready=ready, grace_seconds=config.grace_s)
    return Assembled(service, runtime)


def _expose(config: ProviderServiceConfig, runtime: ProviderRuntime, life: Lifecycle) -> None:
    """/metrics with the leased keys' health, read at scrape time."""
    collector = KeyHealthCollector(runtime.key_health)
    REGISTRY.register(collector)
    life.on_close(lambda: REGISTRY.unregister(collector))
    exposition = start_settings(config.exposition)
    if exposition is not None:
        life.on_close(exposition.close)


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

    recorder = UsageRecorder(config.metrics_target, health_source=report, flush_interval=5.0)
    recorder.start()
    life.on_close(recorder.aclose)
