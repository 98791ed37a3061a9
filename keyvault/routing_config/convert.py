"""Proto conversions of the routing configuration, and the feed's message (built once
per change and shared by every watcher; only the latest revision is pushed)."""

from __future__ import annotations

from agentopia.v1 import routing_config_service_pb2 as rc_pb2

from keyvault.routing_config.store import RoutingRevision, read_latest
from keyvault.storage.database import Database
from keyvault.times import set_time

__all__ = ["build_routing_snapshot", "routing_revision"]


def routing_revision(revision: RoutingRevision) -> rc_pb2.RoutingConfigRevision:
    message = rc_pb2.RoutingConfigRevision(
        version=revision.version, toml=revision.toml, updated_by=revision.updated_by
    )
    set_time(message.update_time, revision.update_time)
    return message


async def build_routing_snapshot(db: Database) -> tuple[int, rc_pb2.WatchRoutingConfigResponse]:
    version, revision = await read_latest(db)
    return version, rc_pb2.WatchRoutingConfigResponse(revision=routing_revision(revision))
