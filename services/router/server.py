"""Composition root of the router: channels to its peers, the key cache, routing
state, the usage recorder, both public servicers, and the lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import socket
import time
from importlib import resources
from pathlib import Path

import grpc
from agentopia.v1 import inference_service_pb2_grpc as inf_grpc
from agentopia.v1 import openai_compat_service_pb2_grpc as oc_grpc
from agentopia.v1 import provider_service_pb2 as pv_pb2
from agentopia.v1 import provider_service_pb2_grpc as pv_grpc
from agentopia.v1 import routing_admin_service_pb2_grpc as ra_grpc

from keyvault.client.keycache import KeyCache
from keyvault.client.limits import open_limiter
from metrics.client import UsageRecorder
from metrics.exposition import GatewayInstruments, start_exposition_from_env
from services.kernel.channels import open_channel, wait_until_serving
from services.kernel.hosting import ServiceHost
from services.kernel.logs import configure_logging
from services.kernel.tracing import configure_tracing, shutdown_tracing
from services.router.admin_servicer import RoutingAdminServicer
from services.router.admission import Admission
from services.router.config import RouterConfig
from services.router.config_store import KeyVaultConfigStore
from services.router.health import CircuitPublisher, Probes
from services.router.inference_servicer import InferenceServicer
from services.router.openai_servicer import OpenAICompatServicer
from services.router.pipeline import Pipeline
from services.router.routing import (
    HealthMonitor,
    Planner,
    Registry,
    RegistryHolder,
    RoutingState,
    parse_registry,
)
from services.router.routing.catalog import RegistryCatalog
from services.router.routing_config import ConfigRevision, LiveRegistry
from services.router.usage import RecordingSink

__all__ = ["serve"]

_log = logging.getLogger(__name__)
_PROVIDER_REFRESH_S = 10.0


def _initial_revision(config: RouterConfig) -> tuple[Registry, ConfigRevision]:
    """The shipped registry (or AGENTOPIA_MODELS_FILE) until the store has a newer one."""
    if config.models_file:
        source = config.models_file
        text = Path(source).read_text(encoding="utf-8")
    else:
        source = "models.toml"
        text = resources.files("services.router.routing").joinpath(source).read_text("utf-8")
    registry = parse_registry(text, source=source)
    revision = ConfigRevision(
        version=registry.version, toml=text, update_time=dt.datetime.now(dt.UTC), updated_by=""
    )
    return registry, revision


async def _follow_providers(
    stub: pv_grpc.ProviderServiceAsyncStub, state: RoutingState, known: asyncio.Event
) -> None:
    """Keep `auto` away from providers the provider service has no key for: the list
    is read at once (retrying each second until the provider service answers), then
    refreshed, so a key added at runtime is picked up."""
    while True:
        try:
            reply = await stub.ListProviders(pv_pb2.ListProvidersRequest(), timeout=5.0)
        except grpc.aio.AioRpcError as error:
            _log.info("provider list unavailable (%s); retrying", error.code().name)
            await asyncio.sleep(1.0)
            continue
        for provider in reply.providers:
            state.set_provider_ready(provider.name, provider.configured)
        known.set()
        await asyncio.sleep(_PROVIDER_REFRESH_S)


async def serve(config: RouterConfig) -> None:
    configure_logging("router", config.log_level)
    tracer_provider = configure_tracing("agentopia-router")
    exposition = start_exposition_from_env(9101)
    provider_channel = open_channel(config.provider_target)
    keyvault_channel = open_channel(config.keyvault_target)

    instruments = GatewayInstruments()
    initial, revision = _initial_revision(config)
    registry = RegistryHolder(initial)
    live = LiveRegistry(registry, revision)
    state = RoutingState(
        registry.current,
        on_circuit_change=lambda *change: circuits.on_change(*change),  # noqa: PLW0108 (bound below)
    )
    circuits = CircuitPublisher(state, instruments)
    registry.subscribe(state.sync)
    # A target, not a traced channel: the recorder tunes its own reconnect backoff.
    recorder = UsageRecorder(
        config.metrics_target,
        instruments=instruments.recorder,
        health_source=circuits.health_report,
    )
    limiter = open_limiter(config.limits_redis_url, prefix=config.limits_prefix)
    provider = pv_grpc.ProviderServiceStub(provider_channel)
    pipeline = Pipeline(
        provider=provider,
        registry=registry,
        state=state,
        planner=Planner(state),
        usage=RecordingSink(recorder, instruments),
        admission=Admission(limiter),
    )
    probes = Probes(provider, state)
    monitor = (
        HealthMonitor(
            state,
            probes.check,
            self_test=probes.self_test if config.self_test_interval_s > 0 else None,
            interval_s=config.health_check_interval_s,
            self_test_interval_s=config.self_test_interval_s or 1.0,
        )
        if config.health_check_interval_s > 0
        else None
    )
    store = KeyVaultConfigStore(keyvault_channel, watcher=socket.gethostname())
    catalog = RegistryCatalog(registry, created=int(time.time()))
    keys = KeyCache()
    openai = OpenAICompatServicer(
        pipeline=pipeline, keys=keys, catalog=catalog, max_body_bytes=config.max_body_bytes
    )
    typed = InferenceServicer(pipeline=pipeline, keys=keys, catalog=catalog)
    admin = RoutingAdminServicer(keys=keys, live=live, store=store, state=state, monitor=monitor)

    host = ServiceHost("router", max_message_bytes=config.max_body_bytes + 1024 * 1024)
    host.add(
        "agentopia.v1.OpenAICompatService",
        lambda server: oc_grpc.add_OpenAICompatServiceServicer_to_server(openai, server),
    )
    host.add(
        "agentopia.v1.InferenceService",
        lambda server: inf_grpc.add_InferenceServiceServicer_to_server(typed, server),
    )
    host.add(
        "agentopia.v1.RoutingAdminService",
        lambda server: ra_grpc.add_RoutingAdminServiceServicer_to_server(admin, server),
    )
    providers_known = asyncio.Event()
    background = [
        asyncio.create_task(keys.follow(keyvault_channel, watcher=socket.gethostname())),
        asyncio.create_task(_follow_providers(provider, state, providers_known)),
        asyncio.create_task(live.follow(store)),
    ]
    if monitor is not None:
        background.append(asyncio.create_task(monitor.run()))
    recorder.start()

    async def ready() -> None:
        await keys.ready.wait()
        await wait_until_serving(provider_channel)
        await providers_known.wait()

    async def cleanup() -> None:
        for task in background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await pipeline.drain()
        await recorder.aclose()
        await limiter.aclose()
        for channel in (provider_channel, keyvault_channel):
            await channel.close(None)
        if exposition is not None:
            exposition.close()
        shutdown_tracing(tracer_provider)

    await host.run(config.listen, ready=ready, cleanup=cleanup, grace_seconds=config.drain_grace_s)
