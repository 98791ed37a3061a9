"""ProviderKeyService: the admin RPCs over provider keys and the two internal ones the
provider service uses (the lease, outcome reports). Proto <-> domain only; the rules
live in store.py and health.py."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Mapping
from typing import ClassVar

from agentopia.v1 import provider_key_service_pb2 as pk_pb2
from google.protobuf.descriptor import ServiceDescriptor

from keyvault import errors
from keyvault.access import Access
from keyvault.actors import Actor
from keyvault.handlers import Ctx
from keyvault.provider_keys.convert import (
    STATE_FROM_PROTO,
    leased_key,
    outcome_of,
    provider_key,
    usage_row,
)
from keyvault.provider_keys.health import KeyHealth
from keyvault.provider_keys.lease import LeasedKey
from keyvault.provider_keys.records import ProviderKeyState
from keyvault.provider_keys.store import ProviderKeyStore
from keyvault.provider_keys.validation import Validator
from keyvault.storage.feed import SnapshotFeed
from keyvault.times import datetime_of, utcnow

__all__ = ["ProviderKeyServicer"]

_log = logging.getLogger(__name__)
_MAX_OUTCOMES = 10_000


class ProviderKeyServicer:
    SERVICE: ClassVar[ServiceDescriptor] = pk_pb2.DESCRIPTOR.services_by_name["ProviderKeyService"]
    ACCESS: ClassVar[Mapping[str, Access]] = {
        "CreateProviderKey": Access.WRITE,
        "ListProviderKeys": Access.READ,
        "GetProviderKey": Access.READ,
        "UpdateProviderKey": Access.WRITE,
        "DeleteProviderKey": Access.WRITE,
        "RotateProviderKey": Access.WRITE,
        "ValidateProviderKey": Access.WRITE,
        "GetProviderKeyUsage": Access.READ,
        "WatchProviderKeys": Access.SERVICE,
        "ReportKeyOutcomes": Access.SERVICE,
    }

    def __init__(
        self,
        *,
        store: ProviderKeyStore,
        feed: SnapshotFeed[list[LeasedKey]],
        health: KeyHealth,
        validator: Validator,
        rotation_overlap: dt.timedelta,
    ) -> None:
        self._store = store
        self._feed = feed
        self._health = health
        self._validator = validator
        self._rotation_overlap = rotation_overlap

    async def CreateProviderKey(
        self, request: pk_pb2.CreateProviderKeyRequest, context: Ctx, actor: Actor
    ) -> pk_pb2.CreateProviderKeyResponse:
        record = await self._store.create(
            actor,
            provider=request.provider,
            label=request.label,
            secret=request.secret,
            secret_version=request.secret_version,
            weight=request.weight if request.HasField("weight") else 1,
        )
        _log.info("provider key %s created by %s", record.key_id, actor.key_id)
        return pk_pb2.CreateProviderKeyResponse(key=provider_key(record))

    async def ListProviderKeys(
        self, request: pk_pb2.ListProviderKeysRequest, context: Ctx, actor: Actor
    ) -> pk_pb2.ListProviderKeysResponse:
        records = await self._store.list(
            provider=request.provider, include_retired=request.include_retired
        )
        return pk_pb2.ListProviderKeysResponse(keys=[provider_key(r) for r in records])

    async def GetProviderKey(
        self, request: pk_pb2.GetProviderKeyRequest, context: Ctx, actor: Actor
    ) -> pk_pb2.GetProviderKeyResponse:
        record = await self._store.get(request.key_id)
        return pk_pb2.GetProviderKeyResponse(key=provider_key(record))

    async def UpdateProviderKey(
        self, request: pk_pb2.UpdateProviderKeyRequest, context: Ctx, actor: Actor
    ) -> pk_pb2.UpdateProviderKeyResponse:
        key = request.key
        changes: dict[str, object] = {}
        for path in request.update_mask.paths:
            if path == "state":
                state = STATE_FROM_PROTO.get(key.state)
                if state is None:
                    raise errors.invalid_argument("state must be set", "state")
                changes["state"] = state
            elif path == "retire_time":
                changes["retire_time"] = datetime_of(key, "retire_time")
            elif path in ("label", "weight"):
                changes[path] = getattr(key, path)
            else:
                raise errors.invalid_argument(
                    f"cannot update {path!r}; updatable: label, weight, state, retire_time",
                    "update_mask",
                )
        record = await self._store.update(actor, key.key_id, changes)
        return pk_pb2.UpdateProviderKeyResponse(key=provider_key(record))

    async def DeleteProviderKey(
        self, request: pk_pb2.DeleteProviderKeyRequest, context: Ctx, actor: Actor
    ) -> pk_pb2.DeleteProviderKeyResponse:
        await self._store.delete(actor, request.key_id)
        _log.info("provider key %s deleted by %s", request.key_id, actor.key_id)
        return pk_pb2.DeleteProviderKeyResponse()

    async def RotateProviderKey(
        self, request: pk_pb2.RotateProviderKeyRequest, context: Ctx, actor: Actor
    ) -> pk_pb2.RotateProviderKeyResponse:
        overlap = self._rotation_overlap
        if request.HasField("overlap"):
            overlap = dt.timedelta(seconds=request.overlap.ToNanoseconds() / 1e9)
        new, old = await self._store.rotate(
            actor,
            request.key_id,
            secret=request.secret,
            secret_version=request.secret_version,
            overlap=overlap,
            label=request.label,
        )
        _log.info("provider key %s rotated to %s by %s", old.key_id, new.key_id, actor.key_id)
        return pk_pb2.RotateProviderKeyResponse(
            new_key=provider_key(new), old_key=provider_key(old)
        )

    async def ValidateProviderKey(
        self, request: pk_pb2.ValidateProviderKeyRequest, context: Ctx, actor: Actor
    ) -> pk_pb2.ValidateProviderKeyResponse:
        if not request.model:
            raise errors.invalid_argument("model names the upstream model to call", "model")
        record = await self._store.get(request.key_id)
        if record.state is ProviderKeyState.RETIRED:
            raise errors.failed_precondition(
                "provider_key_retired", "A retired key is no longer leased and cannot be validated."
            )
        checked = await self._validator.validate(record, request.model)
        if checked.result != "error":
            await self._health.record_validation(
                actor, record.key_id, checked.result, checked.upstream_status
            )
        record = await self._store.get(request.key_id)
        return pk_pb2.ValidateProviderKeyResponse(
            valid=checked.result in ("valid", "rate_limited"),
            result=checked.result,
            upstream_status=checked.upstream_status,
            message=checked.message,
            key=provider_key(record),
        )

    async def GetProviderKeyUsage(
        self, request: pk_pb2.GetProviderKeyUsageRequest, context: Ctx, actor: Actor
    ) -> pk_pb2.GetProviderKeyUsageResponse:
        await self._store.get(request.key_id)  # NOT_FOUND for unknown ids
        end = datetime_of(request, "end_time") or utcnow()
        start = datetime_of(request, "start_time") or end - dt.timedelta(hours=24)
        if start >= end:
            raise errors.invalid_argument("start_time must be before end_time", "start_time")
        rows, total = await self._health.usage(request.key_id, start, end)
        return pk_pb2.GetProviderKeyUsageResponse(
            rows=[usage_row(r) for r in rows], total=usage_row(total)
        )

    async def WatchProviderKeys(
        self, request: pk_pb2.WatchProviderKeysRequest, context: Ctx, actor: Actor
    ) -> AsyncIterator[pk_pb2.WatchProviderKeysResponse]:
        wanted = frozenset(request.providers)
        _log.info("provider-key watcher %r connected", request.watcher[:100])
        async for leased in self._feed.subscribe():
            keys = [leased_key(k) for k in leased if not wanted or k.record.provider in wanted]
            yield pk_pb2.WatchProviderKeysResponse(keys=keys, version=self._feed.version)

    async def ReportKeyOutcomes(
        self, request: pk_pb2.ReportKeyOutcomesRequest, context: Ctx, actor: Actor
    ) -> pk_pb2.ReportKeyOutcomesResponse:
        if len(request.outcomes) > _MAX_OUTCOMES:
            raise errors.invalid_argument(f"send at most {_MAX_OUTCOMES} outcomes per call")
        outcomes = [outcome_of(o) for o in request.outcomes]
        accepted = await self._health.apply(actor, outcomes)
        return pk_pb2.ReportKeyOutcomesResponse(accepted=accepted)
