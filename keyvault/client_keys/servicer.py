"""ClientKeyService: proto <-> domain only; the rules live in store.py."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import ClassVar

from agentopia.v1 import client_key_service_pb2 as ck_pb2
from google.protobuf.descriptor import ServiceDescriptor

from keyvault import errors
from keyvault.access import Access
from keyvault.actors import Actor
from keyvault.client_keys import convert
from keyvault.client_keys.snapshot import ClientSnapshot
from keyvault.client_keys.store import ClientKeyStore
from keyvault.client_keys.usage import ClientUsageReporter
from keyvault.handlers import Ctx
from keyvault.storage.feed import SnapshotFeed

__all__ = ["ClientKeyServicer"]

_log = logging.getLogger(__name__)


class ClientKeyServicer:
    SERVICE: ClassVar[ServiceDescriptor] = ck_pb2.DESCRIPTOR.services_by_name["ClientKeyService"]
    ACCESS: ClassVar[Mapping[str, Access]] = {
        "CreateClientKey": Access.WRITE,
        "ListClientKeys": Access.READ,
        "GetClientKey": Access.READ,
        "RevokeClientKey": Access.WRITE,
        "UpdateClientKey": Access.WRITE,
        "DeleteClientKey": Access.WRITE,
        "GetClientKeyUsage": Access.READ,
        "WatchClientKeys": Access.INTERNAL,
        "GetCallerKey": Access.SELF,
    }

    def __init__(
        self,
        store: ClientKeyStore,
        feed: SnapshotFeed[ClientSnapshot],
        usage: ClientUsageReporter,
    ) -> None:
        self._store = store
        self._feed = feed
        self._usage = usage

    async def CreateClientKey(
        self, request: ck_pb2.CreateClientKeyRequest, context: Ctx, actor: Actor
    ) -> ck_pb2.CreateClientKeyResponse:
        record, secret = await self._store.create(actor, convert.client_key_spec(request))
        _log.info("client key %s created by %s", record.key_id, actor.key_id)
        return ck_pb2.CreateClientKeyResponse(key=convert.client_key(record), secret=secret)

    async def ListClientKeys(
        self, request: ck_pb2.ListClientKeysRequest, context: Ctx, actor: Actor
    ) -> ck_pb2.ListClientKeysResponse:
        records = await self._store.list(include_revoked=request.include_revoked)
        return ck_pb2.ListClientKeysResponse(keys=[convert.client_key(r) for r in records])

    async def GetClientKey(
        self, request: ck_pb2.GetClientKeyRequest, context: Ctx, actor: Actor
    ) -> ck_pb2.GetClientKeyResponse:
        record = await self._store.get(request.key_id)
        return ck_pb2.GetClientKeyResponse(key=convert.client_key(record))

    async def UpdateClientKey(
        self, request: ck_pb2.UpdateClientKeyRequest, context: Ctx, actor: Actor
    ) -> ck_pb2.UpdateClientKeyResponse:
        if not request.key.key_id:
            raise errors.invalid_argument("key.key_id names the key to update", "key.key_id")
        changes = convert.client_key_changes(request.key, list(request.update_mask.paths))
        record = await self._store.update(actor, request.key.key_id, changes)
        return ck_pb2.UpdateClientKeyResponse(key=convert.client_key(record))

    async def RevokeClientKey(
        self, request: ck_pb2.RevokeClientKeyRequest, context: Ctx, actor: Actor
    ) -> ck_pb2.RevokeClientKeyResponse:
        record = await self._store.revoke(actor, request.key_id)
        _log.info("client key %s revoked by %s", record.key_id, actor.key_id)
        return ck_pb2.RevokeClientKeyResponse(key=convert.client_key(record))

    async def DeleteClientKey(
        self, request: ck_pb2.DeleteClientKeyRequest, context: Ctx, actor: Actor
    ) -> ck_pb2.DeleteClientKeyResponse:
        await self._store.delete(actor, request.key_id)
        _log.info("client key %s deleted by %s", request.key_id, actor.key_id)
        return ck_pb2.DeleteClientKeyResponse()

    async def GetClientKeyUsage(
        self, request: ck_pb2.GetClientKeyUsageRequest, context: Ctx, actor: Actor
    ) -> ck_pb2.GetClientKeyUsageResponse:
        record = await self._store.get(request.key_id)
        usage = await self._usage.report(record)
        return ck_pb2.GetClientKeyUsageResponse(usage=usage)

    async def GetCallerKey(
        self, request: ck_pb2.GetCallerKeyRequest, context: Ctx, actor: Actor
    ) -> ck_pb2.GetCallerKeyResponse:
        record = await self._store.get(actor.key_id)
        reply = ck_pb2.GetCallerKeyResponse(key=convert.client_key(record))
        # A key's own settings are always readable; its live counters only when the
        # key vault shares the routers' limits store (without one, each router counts
        # in its own memory and nobody holds a total).
        if self._usage.configured:
            reply.usage.CopyFrom(await self._usage.report(record))
        return reply

    async def WatchClientKeys(
        self, request: ck_pb2.WatchClientKeysRequest, context: Ctx, actor: Actor
    ) -> AsyncIterator[ck_pb2.WatchClientKeysResponse]:
        _log.info("client-key watcher %r connected", request.watcher[:100])
        async for snapshot in self._feed.subscribe():
            yield snapshot.message
