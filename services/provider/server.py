"""Composition root of the provider service: config → logging, tracing → registry
→ pooled clients and adapters (built before the port is bound, so the service is
SERVING as soon as it listens) → servicer → ServiceHost (NOT_SERVING then drain
on SIGTERM; pools closed last)."""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence

import grpc
from agentopia.v1 import metrics_service_pb2 as m_pb2
from agentopia.v1 import provider_service_pb2_grpc
from prometheus_client import REGISTRY

from metrics.client import UsageRecorder
from metrics.exposition import KeyHealthCollector, start_exposition_from_env
from services.kernel import logs, tracing
from services.kernel.hosting import ServiceHost
from services.provider.config import ServiceConfig
from services.provider.provider_spec import ProviderSpec
from services.provider.registry import PROVIDERS
from services.provider.runtime import ProviderRuntime
from services.provider.servicer import SERVICE_NAME, ProviderServicer

__all__ = ["build_host", "load_config", "serve"]


def load_config() -> ServiceConfig:
    return ServiceConfig.from_env(PROVIDERS)


def build_host(config: ServiceConfig, runtime: ProviderRuntime) -> ServiceHost:
    """The gRPC host with ProviderService registered (not started)."""
    host = ServiceHost("provider", max_message_bytes=config.max_message_bytes)
    servicer = ProviderServicer(runtime)

    def register(server: grpc.aio.Server) -> None:
        provider_service_pb2_grpc.add_ProviderServiceServicer_to_server(servicer, server)

    host.add(SERVICE_NAME, register)
    return host


def _key_health_reporter(runtime: ProviderRuntime) -> UsageRecorder:
    """The leased keys' health, sent to the metrics service's live stream every few
    seconds (health only: the router sends the usage events)."""
    reporter = f"provider@{socket.gethostname()}"

    def report() -> m_pb2.HealthReport:
        message = m_pb2.HealthReport(reporter=reporter)
        message.time.GetCurrentTime()
        for provider, key_id, health in runtime.key_health():
            message.keys.add(provider=provider, key_id=key_id, health=health)
        return message

    target = os.environ.get("AGENTOPIA_METRICS_TARGET") or "127.0.0.1:50054"
    recorder = UsageRecorder(target, health_source=report, flush_interval=5.0)
    recorder.start()
    return recorder


async def serve(config: ServiceConfig, specs: Sequence[ProviderSpec] = PROVIDERS) -> None:
    """Run until SIGTERM/SIGINT."""
    logs.configure_logging("provider", config.log_level)
    tracer_provider = tracing.configure_tracing("provider")
    exposition = start_exposition_from_env(9102)
    runtime = ProviderRuntime(config, specs)
    try:
        # Before binding: an adapter's bad settings (ConfigError) end the process
        # at once with one clear line, instead of a server stuck NOT_SERVING.
        await runtime.start()
    except BaseException:
        await runtime.close()
        raise
    host = build_host(config, runtime)
    REGISTRY.register(KeyHealthCollector(runtime.key_health))
    health = _key_health_reporter(runtime) if config.keyvault is not None else None

    async def cleanup() -> None:
        if health is not None:
            await health.aclose()
        await runtime.close()
        if exposition is not None:
            exposition.close()
        tracing.shutdown_tracing(tracer_provider)

    await host.run(config.listen, cleanup=cleanup, grace_seconds=config.grace_s)
