"""Provider-key RPCs, the audit log RPC and the two internal ones used by the provider
service: proto <-> domain only; the rules live in providerkeys.py and provider_health.py."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator

from agentopia.v1 import keyvault_service_pb2 as kv_pb2

from keyvault import errors
from keyvault.access import Access, Guard
from keyvault.audit import AuditLog
from keyvault.convert import audit_event, datetime_of
from keyvault.convert_provider import (
    STATE_FROM_PROTO,
    leased_key,
    outcome_of,
    provider_key,
    usage_row,
)
from keyvault.feed import SnapshotFeed
from keyvault.provider_health import KeyHealth
from keyvault.providerkeys import LeasedKey, ProviderKeyStore
from keyvault.records import Actor, ProviderKeyState, utcnow
from keyvault.rpc import Ctx, stream, unary
from keyvault.validation import Validator

__all__ = ["ProviderKeyRpcs"]

_log = logging.getLogger(__name__)
_MAX_OUTCOMES = 10_000


class ProviderKeyRpcs:
    guard: Guard
    provider_keys: ProviderKeyStore
    provider_feed: SnapshotFeed[list[LeasedKey]]
    health: KeyHealth
    audit_log: AuditLog
    validator: Validator
    rotation_overlap: dt.timedelta

    @unary(Access.WRITE)
    async def CreateProviderKey(
        self, request: kv_pb2.CreateProviderKeyRequest, context: Ctx, actor: Actor
    ) -> kv_pb2.CreateProviderKeyResponse:
        record = await self.provider_keys.create(
            actor,
            provider=request.provider,
            label=request.label,
            secret=request.secret,
            secret_version=request.secret_version,
            weight=request.weight if request.HasField("weight") else 1,
        )
        _log.info("provider key %s created by %s", record.key_id, actor.key_id)
        return kv_pb2.CreateProviderKeyResponse(key=provider_key(record))

    @unary(Access.READ)
    async def ListProviderKeys(
        self, request: kv_pb2.ListProviderKeysRequest, context: Ctx, actor: Actor
    ) -> kv_pb2.ListProviderKeysResponse:
        records = await self.provider_keys.list(
            provider=request.provider, include_retired=request.include_retired
        )
        return kv_pb2.ListProviderKeysResponse(keys=[provider_key(r) for r in records])

    @unary(Access.READ)
    async def GetProviderKey(
        self, request: kv_pb2.GetProviderKeyRequest, context: Ctx, actor: Actor
    ) -> kv_pb2.GetProviderKeyResponse:
        record = await self.provider_keys.get(request.key_id)
        return kv_pb2.GetProviderKeyResponse(key=provider_key(record))

    @unary(Access.WRITE)
    async def UpdateProviderKey(
        self, request: kv_pb2.UpdateProviderKeyRequest, context: Ctx, actor: Actor
    ) -> kv_pb2.UpdateProviderKeyResponse:
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
        record = await self.provider_keys.update(actor, key.key_id, changes)
        return kv_pb2.UpdateProviderKeyResponse(key=provider_key(record))

    @unary(Access.WRITE)
    async def DeleteProviderKey(
        self, request: kv_pb2.DeleteProviderKeyRequest, context: Ctx, actor: Actor
    ) -> kv_pb2.DeleteProviderKeyResponse:
        await self.provider_keys.delete(actor, request.key_id)
        _log.info("provider key %s deleted by %s", request.key_id, actor.key_id)
        return kv_pb2.DeleteProviderKeyResponse()

    @unary(Access.WRITE)
    async def RotateProviderKey(
        self, request: kv_pb2.RotateProviderKeyRequest, context: Ctx, actor: Actor
    ) -> kv_pb2.RotateProviderKeyResponse:
        overlap = self.rotation_overlap
        if request.HasField("overlap"):
            overlap = dt.timedelta(seconds=request.overlap.ToNanoseconds() / 1e9)
        new, old = await self.provider_keys.rotate(
            actor,
            request.key_id,
            secret=request.secret,
            secret_version=request.secret_version,
            overlap=overlap,
            label=request.label,
        )
        _log.info("provider key %s rotated to %s by %s", old.key_id, new.key_id, actor.key_id)
        return kv_pb2.RotateProviderKeyResponse(
            new_key=provider_key(new), old_key=provider_key(old)
        )

    @unary(Access.WRITE)
    async def ValidateProviderKey(
        self, request: kv_pb2.ValidateProviderKeyRequest, context: Ctx, actor: Actor
    ) -> kv_pb2.ValidateProviderKeyResponse:
        if not request.model:
            raise errors.invalid_argument("model names the upstream model to call", "model")
        record = await self.provider_keys.get(request.key_id)
        if record.state is ProviderKeyState.RETIRED:
            raise errors.failed_precondition(
                "provider_key_retired", "A retired key is no longer leased and cannot be validated."
            )
        checked = await self.validator.validate(record, request.model)
        if checked.result != "error":
            await self.health.record_validation(
                actor, record.key_id, checked.result, checked.upstream_status
            )
        record = await self.provider_keys.get(request.key_id)
        return kv_pb2.ValidateProviderKeyResponse(
            valid=checked.result in ("valid", "rate_limited"),
            result=checked.result,
            upstream_status=checked.upstream_status,
            message=checked.message,
            key=provider_key(record),
        )

    @unary(Access.READ)
    async def GetProviderKeyUsage(
        self, request: kv_pb2.GetProviderKeyUsageRequest, context: Ctx, actor: Actor
    ) -> kv_pb2.GetProviderKeyUsageResponse:
        await self.provider_keys.get(request.key_id)  # NOT_FOUND for unknown ids
        end = datetime_of(request, "end_time") or utcnow()
        start = datetime_of(request, "start_time") or end - dt.timedelta(hours=24)
        if start >= end:
            raise errors.invalid_argument("start_time must be before end_time", "start_time")
        rows, total = await self.health.usage(request.key_id, start, end)
        return kv_pb2.GetProviderKeyUsageResponse(
            rows=[usage_row(r) for r in rows], total=usage_row(total)
        )

    @unary(Access.READ)
    async def ListAuditEvents(
        self, request: kv_pb2.ListAuditEventsRequest, context: Ctx, actor: Actor
    ) -> kv_pb2.ListAuditEventsResponse:
        before = None
        if request.page_token:
            if not request.page_token.isdigit():
                raise errors.invalid_argument("page_token is not one this API issued", "page_token")
            before = int(request.page_token)
        events, more = await self.audit_log.page(
            size=request.page_size, before=before, target_id=request.target_id
        )
        return kv_pb2.ListAuditEventsResponse(
            events=[audit_event(e) for e in events],
            next_page_token="" if more is None else str(more),
        )

    @stream(Access.SERVICE)
    async def WatchProviderKeys(
        self, request: kv_pb2.WatchProviderKeysRequest, context: Ctx, actor: Actor
    ) -> AsyncIterator[kv_pb2.WatchProviderKeysResponse]:
        wanted = frozenset(request.providers)
        _log.info("provider-key watcher %r connected", request.watcher[:100])
        async for leased in self.provider_feed.subscribe():
            keys = [leased_key(k) for k in leased if not wanted or k.record.provider in wanted]
            yield kv_pb2.WatchProviderKeysResponse(keys=keys, version=self.provider_feed.version)

    @unary(Access.SERVICE)
    async def ReportKeyOutcomes(
        self, request: kv_pb2.ReportKeyOutcomesRequest, context: Ctx, actor: Actor
    ) -> kv_pb2.ReportKeyOutcomesResponse:
        if len(request.outcomes) > _MAX_OUTCOMES:
            raise errors.invalid_argument(f"send at most {_MAX_OUTCOMES} outcomes per call")
        outcomes = [outcome_of(o) for o in request.outcomes]
        accepted = await self.health.apply(actor, outcomes)
        return kv_pb2.ReportKeyOutcomesResponse(accepted=accepted)
