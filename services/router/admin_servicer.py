"""RoutingAdminService: the registry revision in force, validated runtime edits
that reach every replica, and each deployment's live health on this replica.
Errors are raised as GatewayError; the kernel's interceptor turns them into statuses."""

from __future__ import annotations

import socket
from typing import Any

import grpc
from agentopia.v1 import routing_admin_service_pb2 as ra_pb2
from agentopia.v1 import routing_admin_service_pb2_grpc as ra_grpc

from keyvault.client.keycache import KeyCache, Principal, bearer_token, require_role
from services.kernel.errors import GatewayError
from services.router.routing import HealthMonitor, RoutingState
from services.router.routing_config import ConfigRevision, LiveRegistry, RoutingConfigStore

__all__ = ["RoutingAdminServicer"]

Context = grpc.aio.ServicerContext[Any, Any]


def _revision_message(revision: ConfigRevision) -> ra_pb2.RoutingConfig:
    message = ra_pb2.RoutingConfig(
        version=revision.version, toml=revision.toml, updated_by=revision.updated_by
    )
    message.update_time.FromDatetime(revision.update_time)
    return message


class RoutingAdminServicer(ra_grpc.RoutingAdminServiceServicer):
    def __init__(
        self,
        *,
        keys: KeyCache,
        live: LiveRegistry,
        store: RoutingConfigStore,
        state: RoutingState,
        monitor: HealthMonitor | None,
    ) -> None:
        self._keys = keys
        self._live = live
        self._store = store
        self._state = state
        self._monitor = monitor
        self._replica = socket.gethostname()

    def _caller(self, context: Context, *, write: bool) -> Principal:
        principal = self._keys.authenticate(bearer_token(context.invocation_metadata()))
        require_role(principal, write=write)
        return principal

    async def GetRoutingConfig(
        self, request: ra_pb2.GetRoutingConfigRequest, context: Context
    ) -> ra_pb2.GetRoutingConfigResponse:
        self._caller(context, write=False)
        return ra_pb2.GetRoutingConfigResponse(config=_revision_message(self._live.revision))

    async def UpdateRoutingConfig(
        self, request: ra_pb2.UpdateRoutingConfigRequest, context: Context
    ) -> ra_pb2.UpdateRoutingConfigResponse:
        principal = self._caller(context, write=True)
        revision = await self._live.update(
            request.toml,
            expected_version=request.expected_version,
            updated_by=principal.key_id,
            admin_token=bearer_token(context.invocation_metadata()) or "",
            store=self._store,
        )
        return ra_pb2.UpdateRoutingConfigResponse(config=_revision_message(revision))

    async def ValidateRoutingConfig(
        self, request: ra_pb2.ValidateRoutingConfigRequest, context: Context
    ) -> ra_pb2.ValidateRoutingConfigResponse:
        self._caller(context, write=False)
        try:
            registry = self._live.validate(request.toml, version=self._live.revision.version + 1)
        except GatewayError as error:  # an invalid document is an answer, not a failure
            return ra_pb2.ValidateRoutingConfigResponse(valid=False, error=error.message)
        return ra_pb2.ValidateRoutingConfigResponse(
            valid=True,
            models=len(registry.models),
            deployments=len(registry.deployments),
            aliases=len(registry.aliases),
        )

    async def ListDeploymentHealth(
        self, request: ra_pb2.ListDeploymentHealthRequest, context: Context
    ) -> ra_pb2.ListDeploymentHealthResponse:
        self._caller(context, write=False)
        probes = {r.deployment_id: r for r in (self._monitor.last_results if self._monitor else ())}
        reply = ra_pb2.ListDeploymentHealthResponse(
            replica=self._replica, registry_version=self._live.revision.version
        )
        for snap in self._state.snapshot():
            item = reply.deployments.add(
                deployment_id=snap.deployment_id,
                model=snap.model,
                provider=snap.provider,
                region=snap.region,
                weight=snap.weight,
                circuit=str(snap.circuit),
                retry_after_s=snap.retry_after_s,
                outstanding=snap.outstanding,
                latency_ewma_ms=snap.latency_ewma_ms or 0.0,
                latency_samples=snap.latency_samples,
                window_successes=snap.window_successes,
                window_failures=snap.window_failures,
            )
            probe = probes.get(snap.deployment_id)
            if probe is not None:
                item.last_probe_kind = probe.kind
                item.last_probe_ok = probe.ok
                item.last_probe_error = probe.error_code
                item.last_probe_latency_ms = probe.latency_ms or 0.0
        return reply
