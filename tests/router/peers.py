"""The router's peers as small real gRPC servers (port 0), for in-process router
tests: a key vault that pushes a fixed key snapshot and keeps routing-config
revisions (compare-and-set, pushed to every watcher), a metrics service that
collects the usage events it is sent, and a provider service that declares what
a test says and answers every call with one canned body."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
from agentopia.v1 import client_key_service_pb2 as ck_pb2
from agentopia.v1 import client_key_service_pb2_grpc as ck_grpc
from agentopia.v1 import keyvault_types_pb2 as kv_types
from agentopia.v1 import metrics_service_pb2 as m_pb2
from agentopia.v1 import metrics_service_pb2_grpc as m_grpc
from agentopia.v1 import provider_service_pb2 as pv_pb2
from agentopia.v1 import provider_service_pb2_grpc as pv_grpc
from agentopia.v1 import routing_config_service_pb2 as rc_pb2
from agentopia.v1 import routing_config_service_pb2_grpc as rc_grpc

from services.kernel.errors import GatewayError
from services.kernel.hosting import ServiceHost

__all__ = [
    "ADMIN_KEY",
    "CLIENT_KEY",
    "TRUSTED_KEY",
    "VIEWER_KEY",
    "KeyVaultDouble",
    "MetricsDouble",
    "Peer",
    "ProviderDouble",
    "serve_peer",
]

CLIENT_KEY = "sk-agp-in-process-test-client-key"
ADMIN_KEY = "sk-agp-in-process-test-admin-key"
VIEWER_KEY = "sk-agp-in-process-test-viewer-key"
# A client key allowed every governed pass-through parameter (store, service_tier, metadata).
TRUSTED_KEY = "sk-agp-in-process-test-trusted-key"
_HASH_KEY = b"h" * 32
Context = grpc.aio.ServicerContext[Any, Any]


def _record(
    secret: str, key_id: str, role: kv_types.KeyRole.ValueType, parameters: tuple[str, ...] = ()
) -> ck_pb2.ClientKeyRecord:
    digest = hmac.new(_HASH_KEY, secret.encode(), hashlib.sha256).digest()
    key = ck_pb2.ClientKey(key_id=key_id, name=key_id, role=role, allowed_parameters=parameters)
    return ck_pb2.ClientKeyRecord(secret_digest=digest, key=key)


class KeyVaultDouble(ck_grpc.ClientKeyServiceServicer, rc_grpc.RoutingConfigServiceServicer):
    """One client key and one admin key; routing-config revisions in memory."""

    def __init__(self) -> None:
        self.snapshot = ck_pb2.WatchClientKeysResponse(
            hash_key=_HASH_KEY,
            version=1,
            keys=[
                _record(CLIENT_KEY, "k1", kv_types.KEY_ROLE_CLIENT),
                _record(ADMIN_KEY, "admin", kv_types.KEY_ROLE_ADMIN),
                _record(VIEWER_KEY, "viewer", kv_types.KEY_ROLE_VIEWER),
                _record(
                    TRUSTED_KEY,
                    "trusted",
                    kv_types.KEY_ROLE_CLIENT,
                    ("store", "service_tier", "metadata"),
                ),
            ],
        )
        self.revision = rc_pb2.RoutingConfigRevision()  # version 0: nothing stored
        self._changed = asyncio.Condition()

    async def WatchClientKeys(
        self, request: ck_pb2.WatchClientKeysRequest, context: Context
    ) -> AsyncIterator[ck_pb2.WatchClientKeysResponse]:
        yield self.snapshot
        await asyncio.Event().wait()  # the snapshot never changes; hold the watch open

    async def WatchRoutingConfig(
        self, request: rc_pb2.WatchRoutingConfigRequest, context: Context
    ) -> AsyncIterator[rc_pb2.WatchRoutingConfigResponse]:
        sent = -1
        while True:
            revision = await self._next_after(sent)
            sent = revision.version
            yield rc_pb2.WatchRoutingConfigResponse(revision=revision)

    async def _next_after(self, version: int) -> rc_pb2.RoutingConfigRevision:
        async with self._changed:
            await self._changed.wait_for(lambda: self.revision.version != version)
            revision = rc_pb2.RoutingConfigRevision()
            revision.CopyFrom(self.revision)
            return revision

    async def PutRoutingConfig(
        self, request: rc_pb2.PutRoutingConfigRequest, context: Context
    ) -> rc_pb2.PutRoutingConfigResponse:
        if self.revision.version and request.expected_version != self.revision.version:
            raise GatewayError(
                grpc.StatusCode.ABORTED, "routing_config_conflict", "stale expected_version"
            )
        version = max(request.expected_version, self.revision.version) + 1
        await self.publish(request.toml, version=version, updated_by=request.updated_by)
        return rc_pb2.PutRoutingConfigResponse(revision=self.revision)

    async def publish(self, toml: str, *, version: int, updated_by: str = "") -> None:
        """Store a revision as another replica's put would, and push it to watchers."""
        revision = rc_pb2.RoutingConfigRevision(version=version, toml=toml, updated_by=updated_by)
        revision.update_time.FromDatetime(dt.datetime.now(dt.UTC))
        async with self._changed:
            self.revision = revision
            self._changed.notify_all()


@dataclass
class MetricsDouble(m_grpc.MetricsServiceServicer):
    """Collects the usage events the router's recorder sends."""

    events: list[m_pb2.UsageEvent] = field(default_factory=list)

    async def RecordUsage(
        self, request: m_pb2.RecordUsageRequest, context: Context
    ) -> m_pb2.RecordUsageResponse:
        self.events.extend(request.events)
        return m_pb2.RecordUsageResponse(stored=len(request.events))


@dataclass
class ProviderDouble(pv_grpc.ProviderServiceServicer):
    """Lists `providers` (all configured) and answers Generate with `response_json`."""

    providers: list[pv_pb2.ProviderInfo]
    response_json: bytes = b"{}"
    calls: list[pv_pb2.Invocation] = field(default_factory=list)

    async def ListProviders(
        self, request: pv_pb2.ListProvidersRequest, context: Context
    ) -> pv_pb2.ListProvidersResponse:
        return pv_pb2.ListProvidersResponse(providers=self.providers)

    async def Generate(
        self, request: pv_pb2.GenerateRequest, context: Context
    ) -> pv_pb2.GenerateResponse:
        self.calls.append(request.invocation)
        return pv_pb2.GenerateResponse(response_json=self.response_json)


@dataclass(frozen=True)
class Peer:
    target: str  # 127.0.0.1:<port>


@contextlib.asynccontextmanager
async def serve_peer(name: str, *registrations: tuple[str, Any]) -> AsyncIterator[Peer]:
    """Serve (full service name, `add_..._to_server` bound to its servicer) pairs on port 0."""
    host = ServiceHost(name)
    for full_name, register in registrations:
        host.add(full_name, register)
    port = await host.start("127.0.0.1:0")
    await host.mark_serving()
    try:
        yield Peer(f"127.0.0.1:{port}")
    finally:
        await host.stop(0)
