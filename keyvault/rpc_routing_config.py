"""Routing-config RPCs, used by the routers only (no REST mapping; refused at the edge):
proto <-> domain only; the rules live in routing_config.py."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from agentopia.v1 import keyvault_service_pb2 as kv_pb2

from keyvault import errors
from keyvault.access import Access, Guard
from keyvault.convert import routing_revision
from keyvault.feed import SnapshotFeed
from keyvault.records import Actor
from keyvault.routing_config import RoutingConfigStore
from keyvault.rpc import Ctx, stream, unary

__all__ = ["RoutingConfigRpcs"]

_log = logging.getLogger(__name__)


class RoutingConfigRpcs:
    guard: Guard
    routing_config: RoutingConfigStore
    routing_feed: SnapshotFeed[kv_pb2.WatchRoutingConfigResponse]

    @unary(Access.FORWARDED_WRITE)
    async def PutRoutingConfig(
        self, request: kv_pb2.PutRoutingConfigRequest, context: Ctx, actor: Actor
    ) -> kv_pb2.PutRoutingConfigResponse:
        # The history records whose key authorised the change, not what the caller claims.
        if request.updated_by and request.updated_by != actor.key_id:
            raise errors.invalid_argument(
                "updated_by must be empty or the id of the admin key sent in authorization",
                "updated_by",
            )
        revision = await self.routing_config.put(
            actor, request.toml, expected_version=request.expected_version
        )
        _log.info("routing config v%d stored by %s", revision.version, actor.key_id)
        return kv_pb2.PutRoutingConfigResponse(revision=routing_revision(revision))

    @stream(Access.INTERNAL)
    async def WatchRoutingConfig(
        self, request: kv_pb2.WatchRoutingConfigRequest, context: Ctx, actor: Actor
    ) -> AsyncIterator[kv_pb2.WatchRoutingConfigResponse]:
        _log.info("routing-config watcher %r connected", request.watcher[:100])
        async for message in self.routing_feed.subscribe():
            yield message
