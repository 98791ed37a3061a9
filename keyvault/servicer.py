"""The KeyVaultService servicer: the client-key, provider-key and routing-config RPC
groups over the domain stores. Every method declares its access (see rpc.py / access.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from agentopia.v1 import keyvault_service_pb2 as kv_pb2
from agentopia.v1 import keyvault_service_pb2_grpc as kv_grpc

from keyvault.access import Guard
from keyvault.audit import AuditLog
from keyvault.clientkeys import ClientKeyStore
from keyvault.feed import SnapshotFeed
from keyvault.provider_health import KeyHealth
from keyvault.providerkeys import LeasedKey, ProviderKeyStore
from keyvault.routing_config import RoutingConfigStore
from keyvault.rpc_client_keys import ClientKeyRpcs
from keyvault.rpc_provider_keys import ProviderKeyRpcs
from keyvault.rpc_routing_config import RoutingConfigRpcs
from keyvault.snapshots import ClientSnapshot
from keyvault.usage import ClientUsageReporter
from keyvault.validation import Validator

__all__ = ["KeyVaultServicer", "Parts"]


@dataclass(frozen=True, slots=True)
class Parts:
    guard: Guard
    client_keys: ClientKeyStore
    client_feed: SnapshotFeed[ClientSnapshot]
    client_usage: ClientUsageReporter
    provider_keys: ProviderKeyStore
    provider_feed: SnapshotFeed[list[LeasedKey]]
    health: KeyHealth
    routing_config: RoutingConfigStore
    routing_feed: SnapshotFeed[kv_pb2.WatchRoutingConfigResponse]
    audit_log: AuditLog
    validator: Validator
    rotation_overlap: dt.timedelta

    @property
    def feeds(self) -> tuple[SnapshotFeed[Any], ...]:
        return (self.client_feed, self.provider_feed, self.routing_feed)


class KeyVaultServicer(
    ClientKeyRpcs, ProviderKeyRpcs, RoutingConfigRpcs, kv_grpc.KeyVaultServiceServicer
):
    def __init__(self, parts: Parts) -> None:
        self.guard = parts.guard
        self.client_keys = parts.client_keys
        self.client_feed = parts.client_feed
        self.client_usage = parts.client_usage
        self.provider_keys = parts.provider_keys
        self.provider_feed = parts.provider_feed
        self.health = parts.health
        self.routing_config = parts.routing_config
        self.routing_feed = parts.routing_feed
        self.audit_log = parts.audit_log
        self.validator = parts.validator
        self.rotation_overlap = parts.rotation_overlap
