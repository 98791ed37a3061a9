"""An in-process router + provider service on port 0 (no key vault, no metrics:
keys are applied to the cache directly and usage events are collected), for
tests that need to look inside the router while it serves real gRPC."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

import grpc
from agentopia.v1 import keyvault_service_pb2 as kv_pb2
from agentopia.v1 import metrics_service_pb2
from agentopia.v1 import openai_compat_service_pb2_grpc as oc_grpc
from agentopia.v1 import provider_service_pb2_grpc as pv_grpc

from keyvault.client.keycache import KeyCache
from services.kernel.channels import open_channel
from services.kernel.hosting import ServiceHost
from services.provider.config import ServiceConfig
from services.provider.registry import PROVIDERS
from services.provider.runtime import ProviderRuntime
from services.provider.server import build_host
from services.router.openai_servicer import OpenAICompatServicer
from services.router.pipeline import Pipeline
from services.router.routing import Planner, RegistryHolder, RoutingState, load_default
from services.router.routing.catalog import RegistryCatalog

__all__ = ["CLIENT_KEY", "CollectingSink", "RouterStack", "router_stack"]

CLIENT_KEY = "sk-agp-in-process-test-client-key"
_HASH_KEY = b"h" * 32


@dataclass
class CollectingSink:
    events: list[metrics_service_pb2.UsageEvent] = field(default_factory=list)

    def record(self, event: metrics_service_pb2.UsageEvent) -> None:
        self.events.append(event)


@dataclass
class RouterStack:
    channel: grpc.aio.Channel  # to the router
    stub: oc_grpc.OpenAICompatServiceAsyncStub
    state: RoutingState
    pipeline: Pipeline
    usage: CollectingSink


def _keys() -> KeyCache:
    keys = KeyCache()
    digest = hmac.new(_HASH_KEY, CLIENT_KEY.encode(), hashlib.sha256).digest()
    record = kv_pb2.ClientKeyRecord(secret_digest=digest, key=kv_pb2.ClientKey(key_id="k1"))
    keys.apply(kv_pb2.WatchClientKeysResponse(hash_key=_HASH_KEY, version=1, keys=[record]))
    return keys


@contextlib.asynccontextmanager
async def router_stack(provider_env: Mapping[str, str]) -> AsyncIterator[RouterStack]:
    config = ServiceConfig.from_env(PROVIDERS, env=provider_env)
    runtime = ProviderRuntime(config, PROVIDERS)
    await runtime.start()
    provider_host = build_host(config, runtime)
    provider_port = await provider_host.start("127.0.0.1:0")
    await provider_host.mark_serving()
    registry = RegistryHolder(load_default())
    state = RoutingState(registry.current)
    usage = CollectingSink()
    try:
        async with open_channel(f"127.0.0.1:{provider_port}") as to_provider:
            pipeline = Pipeline(
                provider=pv_grpc.ProviderServiceStub(to_provider),
                registry=registry,
                state=state,
                planner=Planner(state),
                usage=usage,
            )
            servicer = OpenAICompatServicer(
                pipeline=pipeline,
                keys=_keys(),
                catalog=RegistryCatalog(registry, created=0),
                max_body_bytes=1 << 20,
            )
            router_host = ServiceHost("router")
            router_host.add(
                "agentopia.v1.OpenAICompatService",
                lambda server: oc_grpc.add_OpenAICompatServiceServicer_to_server(servicer, server),
            )
            router_port = await router_host.start("127.0.0.1:0")
            await router_host.mark_serving()
            try:
                async with grpc.aio.insecure_channel(f"127.0.0.1:{router_port}") as to_router:
                    yield RouterStack(
                        to_router,
                        oc_grpc.OpenAICompatServiceStub(to_router),
                        state,
                        pipeline,
                        usage,
                    )
            finally:
                await router_host.stop(0)
    finally:
        await provider_host.stop(0)
        await runtime.close()
