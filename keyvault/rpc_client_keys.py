"""Client-key RPCs: proto <-> domain only; the rules live in clientkeys.py."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from agentopia.v1 import keyvault_service_pb2 as kv_pb2

from keyvault import convert, errors
from keyvault.access import Access, Guard
from keyvault.clientkeys import ClientKeyStore
from keyvault.feed import SnapshotFeed
from keyvault.records import Actor
from keyvault.rpc import Ctx, stream, unary
from keyvault.snapshots import ClientSnapshot
from keyvault.usage import ClientUsageReporter

__all__ = ["ClientKeyRpcs"]

_log = logging.getLogger(__name__)


class ClientKeyRpcs:
    guard: Guard
    client_keys: ClientKeyStore
    client_feed: SnapshotFeed[ClientSnapshot]
    client_usage: ClientUsageReporter

    @unary(Access.WRITE)
    async def CreateClientKey(
        self, request: kv_pb2.CreateClientKeyRequest, context: Ctx, actor: Actor
    ) -> kv_pb2.CreateClientKeyResponse:
        record, secret = await self.client_keys.create(actor, convert.client_key_spec(request))
        _log.info("client key %s created by %s", record.key_id, actor.key_id)
        return kv_pb2.CreateClientKeyResponse(key=convert.client_key(record), secret=secret)

    @unary(Access.READ)
    async def ListClientKeys(
        self, request: kv_pb2.ListClientKeysRequest, context: Ctx, actor: Actor
    ) -> kv_pb2.ListClientKeysResponse:
        records = await self.client_keys.list(include_revoked=request.include_revoked)
        return kv_pb2.ListClientKeysResponse(keys=[convert.client_key(r) for r in records])

    @unary(Access.READ)
    async def GetClientKey(
        self, request: kv_pb2.GetClientKeyRequest, context: Ctx, actor: Actor
    ) -> kv_pb2.GetClientKeyResponse:
        record = await self.client_keys.get(request.key_id)
        return kv_pb2.GetClientKeyResponse(key=convert.client_key(record))

    @unary(Access.WRITE)
    async def UpdateClientKey(
        self, request: kv_pb2.UpdateClientKeyRequest, context: Ctx, actor: Actor
    ) -> kv_pb2.UpdateClientKeyResponse:
        if not request.key.key_id:
            raise errors.invalid_argument("key.key_id names the key to update", "key.key_id")
        changes = convert.client_key_changes(request.key, list(request.update_mask.paths))
        record = await self.client_keys.update(actor, request.key.key_id, changes)
        return kv_pb2.UpdateClientKeyResponse(key=convert.client_key(record))

    @unary(Access.WRITE)
    async def RevokeClientKey(
        self, request: kv_pb2.RevokeClientKeyRequest, context: Ctx, actor: Actor
    ) -> kv_pb2.RevokeClientKeyResponse:
        record = await self.client_keys.revoke(actor, request.key_id)
        _log.info("client key %s revoked by %s", record.key_id, actor.key_id)
        return kv_pb2.RevokeClientKeyResponse(key=convert.client_key(record))

    @unary(Access.WRITE)
    async def DeleteClientKey(
        self, request: kv_pb2.DeleteClientKeyRequest, context: Ctx, actor: Actor
    ) -> kv_pb2.DeleteClientKeyResponse:
        await self.client_keys.delete(actor, request.key_id)
        _log.info("client key %s deleted by %s", request.key_id, actor.key_id)
        return kv_pb2.DeleteClientKeyResponse()

    @unary(Access.READ)
    async def GetClientKeyUsage(
        self, request: kv_pb2.GetClientKeyUsageRequest, context: Ctx, actor: Actor
    ) -> kv_pb2.GetClientKeyUsageResponse:
        record = await self.client_keys.get(request.key_id)
        usage = await self.client_usage.report(record)
        return kv_pb2.GetClientKeyUsageResponse(usage=usage)

    @stream(Access.INTERNAL)
    async def WatchClientKeys(
        self, request: kv_pb2.WatchClientKeysRequest, context: Ctx, actor: Actor
    ) -> AsyncIterator[kv_pb2.WatchClientKeysResponse]:
        _log.info("client-key watcher %r connected", request.watcher[:100])
        async for snapshot in self.client_feed.subscribe():
            yield snapshot.message
