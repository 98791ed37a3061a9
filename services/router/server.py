"""Composition root of the router: channels to its peers, the key cache, routing
state, the usage recorder, both public servicers, and the lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from pathlib import Path

import grpc
from agentopia.v1 import inference_service_pb2_grpc as inf_grpc
from agentopia.v1 import openai_compat_service_pb2_grpc as oc_grpc
from agentopia.v1 import provider_service_pb2 as pv_pb2
from agentopia.v1 import provider_service_pb2_grpc as pv_grpc

from metrics.client import UsageRecorder
from metrics.exposition import GatewayInstruments, start_exposition_from_env
from services.common.channels import open_channel, wait_until_serving
from services.common.hosting import ServiceHost
from services.common.logs import configure_logging
from services.common.tracing import configure_tracing, shutdown_tracing
from services.router.auth import KeyCache
from services.router.catalog import Catalog
from services.router.config import RouterConfig
from services.router.inference_servicer import InferenceServicer
from services.router.openai_servicer import OpenAICompatServicer
from services.router.pipeline import Pipeline
from services.router.routing import (
    Planner,
    Registry,
    RegistryHolder,
    RoutingState,
    load_default,
    load_path,
)
from services.router.usage import RecordingSink

__all__ = ["serve"]

_log = logging.getLogger(__name__)
_PROVIDER_REFRESH_S = 30.0


def _load_registry(config: RouterConfig) -> Registry:
    if config.models_file:
        return load_path(Path(config.models_file))
    return load_default()


async def _follow_providers(stub: pv_grpc.ProviderServiceAsyncStub, state: RoutingState) -> None:
    """Keep `auto` away from providers the provider service has no key for."""
    while True:
        try:
            reply = await stub.ListProviders(pv_pb2.ListProvidersRequest(), timeout=5.0)
            for provider in reply.providers:
                state.set_provider_ready(provider.name, provider.configured)
        except grpc.aio.AioRpcError as error:
            _log.warning("provider list unavailable (%s)", error.code().name)
        await asyncio.sleep(_PROVIDER_REFRESH_S)


async def serve(config: RouterConfig) -> None:
    configure_logging("router", config.log_level)
    tracer_provider = configure_tracing("agentopia-router")
    exposition = start_exposition_from_env(9101)
    provider_channel = open_channel(config.provider_target)
    keyvault_channel = open_channel(config.keyvault_target)

    instruments = GatewayInstruments()
    # A target, not a traced channel: the recorder tunes its own reconnect backoff.
    recorder = UsageRecorder(config.metrics_target, instruments=instruments.recorder)
    registry = RegistryHolder(_load_registry(config))
    state = RoutingState(registry.current)
    registry.subscribe(state.sync)
    provider = pv_grpc.ProviderServiceStub(provider_channel)
    pipeline = Pipeline(
        provider=provider,
        registry=registry,
        state=state,
        planner=Planner(state),
        usage=RecordingSink(recorder, instruments),
    )
    catalog = Catalog(registry, created=int(time.time()))
    keys = KeyCache()
    openai = OpenAICompatServicer(
        pipeline=pipeline, keys=keys, catalog=catalog, max_body_bytes=config.max_body_bytes
    )
    typed = InferenceServicer(pipeline=pipeline, keys=keys, catalog=catalog)

    host = ServiceHost("router", max_message_bytes=config.max_body_bytes + 1024 * 1024)
    host.add(
        "agentopia.v1.OpenAICompatService",
        lambda server: oc_grpc.add_OpenAICompatServiceServicer_to_server(openai, server),
    )
    host.add(
        "agentopia.v1.InferenceService",
        lambda server: inf_grpc.add_InferenceServiceServicer_to_server(typed, server),
    )
    background = [
        asyncio.create_task(keys.follow(keyvault_channel, watcher=socket.gethostname())),
        asyncio.create_task(_follow_providers(provider, state)),
    ]
    recorder.start()

    async def ready() -> None:
        await keys.ready.wait()
        await wait_until_serving(provider_channel)

    async def cleanup() -> None:
        for task in background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await recorder.aclose()
        for channel in (provider_channel, keyvault_channel):
            await channel.close(None)
        if exposition is not None:
            exposition.close()
        shutdown_tracing(tracer_provider)

    await host.run(config.listen, ready=ready, cleanup=cleanup, grace_seconds=config.drain_grace_s)
