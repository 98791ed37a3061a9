"""Shared helpers for the provider core tests: an in-process ProviderService on port 0,
composed exactly as `python -m services.provider` composes it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import orjson
from agentopia.v1 import provider_service_pb2, provider_service_pb2_grpc

from services.kernel.service import Lifecycle
from services.provider.adapters.base import (
    Call,
    Capability,
    CapabilityValue,
    Chunk,
    Result,
    StreamEnd,
    Timing,
    UpstreamHttp,
    Usage,
)
from services.provider.config import ProviderServiceConfig
from services.provider.provider_spec import ProviderSpec
from services.provider.redact import Redactor
from services.provider.registry import registered
from services.provider.runtime import ProviderRuntime
from services.provider.server import assemble
from services.provider.settings import ProviderConfig

SAFETY_S = 20.0  # hang guard for awaits in tests, never an assertion
# What the service builds from the registry: every registered provider's key shapes.
REDACTOR = Redactor.of(spec.vocabulary for spec in registered(demo=True))


class ProbeAdapter:
    """A scripted adapter that reports what it was given and when it was closed."""

    def __init__(self, name: str) -> None:
        self._name = name
        self.calls: list[Call] = []
        self.closed = asyncio.Event()
        self.never = asyncio.Event()

    @property
    def name(self) -> str:
        return self._name

    @property
    def capabilities(self) -> frozenset[CapabilityValue]:
        return frozenset({Capability.CAPABILITY_CHAT, Capability.CAPABILITY_STREAMING})

    async def generate(self, call: Call) -> Result:
        self.calls.append(call)
        if call.body.get("mode") == "boom":
            raise RuntimeError("adapter bug leaking sk-proj-supersecretkey123456")
        credential = call.credential.key_id if call.credential else None
        return Result(
            body={"echo": call.body, "credential": credential, "model": call.response_model},
            usage=Usage(prompt_tokens=3, completion_tokens=4, cached_tokens=1),
            timing=Timing(first_byte_ms=0.0, total_ms=0.0),
        )

    async def stream(self, call: Call) -> AsyncIterator[Chunk | StreamEnd]:
        self.calls.append(call)
        self.closed.clear()
        mode = call.body.get("mode")
        try:
            yield Chunk({"n": 0})
            if mode == "forever":
                await self.never.wait()
            elif mode == "flood":  # never awaits: the handler blocks in gRPC's write
                n = 1
                while True:
                    yield Chunk({"n": n, "pad": "x" * 60_000})
                    n += 1
            elif mode == "boom":
                raise RuntimeError("adapter bug")
            elif mode == "no_end":
                return
            yield StreamEnd(usage=Usage(prompt_tokens=5, completion_tokens=6))
        finally:
            self.closed.set()


@dataclass
class Probes:
    adapters: dict[str, ProbeAdapter]

    def spec(self, name: str, **kwargs: Any) -> ProviderSpec:
        def factory(config: ProviderConfig, http: UpstreamHttp) -> ProbeAdapter:
            adapter = ProbeAdapter(name)
            self.adapters[name] = adapter
            return adapter

        return ProviderSpec(name=name, factory=factory, **kwargs)


@dataclass
class Running:
    stub: provider_service_pb2_grpc.ProviderServiceAsyncStub
    channel: grpc.aio.Channel
    runtime: ProviderRuntime
    port: int


@contextlib.asynccontextmanager
async def provider_service(
    specs: Sequence[ProviderSpec] | None = None, env: Mapping[str, str] | None = None
) -> AsyncIterator[Running]:
    """The service serving `specs` (None: the registry's, demo ones included), SERVING
    once its `ready` has passed, as `run` would make it."""
    config = ProviderServiceConfig.from_env(
        {
            "AGENTOPIA_PROVIDER_LISTEN": "127.0.0.1:0",
            "AGENTOPIA_PROMETHEUS_PORT": "0",  # no /metrics server
            "AGENTOPIA_DEMO": "true",
            **(env or {}),
        },
        specs=specs,
    )
    life = Lifecycle()
    try:
        assembled = await assemble(config, life)
        host = assembled.service.host
        port = await host.start(config.listen)
        if assembled.service.ready is not None:
            await assembled.service.ready()
        await host.mark_serving()
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        try:
            yield Running(
                provider_service_pb2_grpc.ProviderServiceStub(channel),
                channel,
                assembled.runtime,
                port,
            )
        finally:
            await channel.close(None)
            await host.stop(0)
    finally:
        await life.close()


def invocation(
    provider: str,
    body: Mapping[str, Any] | bytes,
    *,
    model: str = "",
    operation: int = provider_service_pb2.OPERATION_CHAT_COMPLETIONS,
    **fields: Any,
) -> provider_service_pb2.Invocation:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return provider_service_pb2.Invocation(
        operation=operation,
        request_json=raw,
        provider=provider,
        upstream_model=model,
        response_model=fields.pop("response_model", model),
        request_id=fields.pop("request_id", "req-test"),
        **fields,
    )
