"""RoutingConfigService, used by the routers only (no REST mapping; refused at the
edge): proto <-> domain only; the rules live in store.py."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import ClassVar

from agentopia.v1 import routing_config_service_pb2 as rc_pb2
from google.protobuf.descriptor import ServiceDescriptor

from keyvault import errors
from keyvault.access import Access
from keyvault.actors import Actor
from keyvault.handlers import Ctx
from keyvault.routing_config.convert import routing_revision
from keyvault.routing_config.store import RoutingConfigStore
from keyvault.storage.feed import SnapshotFeed

__all__ = ["RoutingConfigServicer"]

_log = logging.getLogger(__name__)


class RoutingConfigServicer:
    SERVICE: ClassVar[ServiceDescriptor] = rc_pb2.DESCRIPTOR.services_by_name[
        "RoutingConfigService"
    ]
    ACCESS: ClassVar[Mapping[str, Access]] = {
        "PutRoutingConfig": Access.FORWARDED_WRITE,
        "WatchRoutingConfig": Access.INTERNAL,
    }

    def __init__(
        self, store: RoutingConfigStore, feed: SnapshotFeed[rc_pb2.WatchRoutingConfigResponse]
    ) -> None:
        self._store = store
        self._feed = feed

    async def PutRoutingConfig(
        self, request: rc_pb2.PutRoutingConfigRequest, context: Ctx, actor: Actor
    ) -> rc_pb2.PutRoutingConfigResponse:
        # The history records whose key authorised the change, not what the caller claims.
        if request.updated_by and request.updated_by != actor.key_id:
            raise errors.invalid_argument(
                "updated_by must be empty or the id of the admin key sent in authorization",
                "updated_by",
            )
        revision = await self._store.put(
            actor, request.toml, expected_version=request.expected_version
        )
        _log.info("routing config v%d stored by %s", revision.version, actor.key_id)
        return rc_pb2.PutRoutingConfigResponse(revision=routing_revision(revision))

    async def WatchRoutingConfig(
        self, request: rc_pb2.WatchRoutingConfigRequest, context: Ctx, actor: Actor
    ) -> AsyncIterator[rc_pb2.WatchRoutingConfigResponse]:
        _log.info("routing-config watcher %r connected", request.watcher[:100])
        async for message in self._feed.subscribe():
            yield message
