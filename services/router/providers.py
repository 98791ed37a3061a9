"""What the provider service can call, as its ListProviders reply says: which
providers have a key (so `auto` keeps away from the others) and what each
provider's adapter declares it can do (so the registry claims nothing more).

The list is read once at start-up (retrying until the provider service
answers) and then refreshed, so a key added at runtime is picked up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from types import MappingProxyType

import grpc
from agentopia.v1 import provider_service_pb2 as pv_pb2
from agentopia.v1 import provider_service_pb2_grpc as pv_grpc

from services.router.routing import RoutingState
from services.router.routing.capabilities import Capabilities, Capability

__all__ = ["ProviderDirectory"]

_log = logging.getLogger(__name__)
_LIST_TIMEOUT_S = 5.0


class ProviderDirectory:
    """The provider service's providers: readiness into the routing state, and the
    adapters' declared capabilities for the registry's claim check."""

    def __init__(
        self,
        stub: pv_grpc.ProviderServiceAsyncStub,
        state: RoutingState,
        *,
        refresh_s: float = 10.0,
        retry_s: float = 1.0,
    ) -> None:
        self._stub = stub
        self._state = state
        self._refresh_s = refresh_s
        self._retry_s = retry_s
        self._declared: Mapping[str, Capabilities] = MappingProxyType({})

    def declared(self) -> Mapping[str, Capabilities]:
        """Each known provider's adapter capabilities (empty before the first list)."""
        return self._declared

    async def first(self) -> None:
        """Read the list, retrying while the provider service does not answer."""
        while True:
            try:
                self._apply(await self._list())
                return
            except grpc.aio.AioRpcError as error:
                _log.info("provider list unavailable (%s); retrying", error.code().name)
                await asyncio.sleep(self._retry_s)

    async def follow(self) -> None:
        """Refresh the list forever (after `first`)."""
        while True:
            await asyncio.sleep(self._refresh_s)
            try:
                self._apply(await self._list())
            except grpc.aio.AioRpcError as error:
                _log.warning("provider list refresh failed (%s)", error.code().name)
            except Exception:  # a bad reply must not end the refreshes for good
                _log.exception("provider list refresh failed unexpectedly; keeping the last list")

    async def _list(self) -> pv_pb2.ListProvidersResponse:
        return await self._stub.ListProviders(
            pv_pb2.ListProvidersRequest(), timeout=_LIST_TIMEOUT_S
        )

    def _apply(self, reply: pv_pb2.ListProvidersResponse) -> None:
        declared: dict[str, Capabilities] = {}
        for provider in reply.providers:
            self._state.set_provider_ready(provider.name, provider.configured)
            declared[provider.name] = frozenset(
                c for c in provider.capabilities if c != Capability.CAPABILITY_UNSPECIFIED
            )
        self._declared = MappingProxyType(declared)
