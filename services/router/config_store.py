"""The routing config store shared by every router replica: the key vault (which
owns the mesh's database) keeps the latest registry revision and pushes it to
every watcher, like it pushes client keys."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC

import grpc
from agentopia.v1 import routing_config_service_pb2 as rc_pb2
from agentopia.v1 import routing_config_service_pb2_grpc as rc_grpc

from services.kernel.errors import GatewayError
from services.router.routing_config import ConfigRevision

__all__ = ["KeyVaultConfigStore"]


def _revision(message: rc_pb2.RoutingConfigRevision) -> ConfigRevision:
    return ConfigRevision(
        version=message.version,
        toml=message.toml,
        update_time=message.update_time.ToDatetime(tzinfo=None).replace(tzinfo=UTC),
        updated_by=message.updated_by,
    )


class KeyVaultConfigStore:
    """RoutingConfigStore over RoutingConfigService.PutRoutingConfig / WatchRoutingConfig.

    A put is authorised by the admin's own key (forwarded), so the key vault
    checks the role itself rather than trusting the router."""

    def __init__(self, channel: grpc.aio.Channel, *, watcher: str) -> None:
        self._stub = rc_grpc.RoutingConfigServiceStub(channel)
        self._watcher = watcher

    async def put(
        self, toml: str, *, expected_version: int, updated_by: str, admin_token: str = ""
    ) -> ConfigRevision:
        request = rc_pb2.PutRoutingConfigRequest(
            toml=toml, expected_version=expected_version, updated_by=updated_by
        )
        try:
            reply = await self._stub.PutRoutingConfig(
                request, metadata=(("authorization", f"Bearer {admin_token}"),), timeout=10.0
            )
        except grpc.aio.AioRpcError as error:
            raise GatewayError.from_rpc_error(error) from None
        return _revision(reply.revision)

    async def watch(self) -> AsyncIterator[ConfigRevision]:
        call = self._stub.WatchRoutingConfig(
            rc_pb2.WatchRoutingConfigRequest(watcher=self._watcher)
        )
        try:
            async for message in call:
                if message.revision.version > 0:
                    yield _revision(message.revision)
        except grpc.aio.AioRpcError as error:
            raise GatewayError.from_rpc_error(error) from None
        finally:
            call.cancel()
