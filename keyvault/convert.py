"""Proto <-> domain conversions for client keys, audit events and shared bits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from agentopia.v1 import keyvault_service_pb2 as kv_pb2
from google.protobuf import timestamp_pb2

from keyvault import errors
from keyvault.audit import AuditEvent
from keyvault.money import format_usd, parse_usd
from keyvault.records import BudgetPeriod, ClientKeyRecord, ClientKeySpec, Role
from keyvault.routing_config import RoutingRevision

__all__ = [
    "client_key",
    "client_key_changes",
    "client_key_record",
    "client_key_spec",
    "datetime_of",
    "routing_revision",
    "set_time",
]

ROLE_TO_PROTO = {
    Role.CLIENT: kv_pb2.KEY_ROLE_CLIENT,
    Role.VIEWER: kv_pb2.KEY_ROLE_VIEWER,
    Role.ADMIN: kv_pb2.KEY_ROLE_ADMIN,
}
ROLE_FROM_PROTO = {v: k for k, v in ROLE_TO_PROTO.items()}
PERIOD_TO_PROTO = {
    BudgetPeriod.NONE: kv_pb2.BUDGET_PERIOD_UNSPECIFIED,
    BudgetPeriod.DAILY: kv_pb2.BUDGET_PERIOD_DAILY,
    BudgetPeriod.WEEKLY: kv_pb2.BUDGET_PERIOD_WEEKLY,
    BudgetPeriod.MONTHLY: kv_pb2.BUDGET_PERIOD_MONTHLY,
    BudgetPeriod.TOTAL: kv_pb2.BUDGET_PERIOD_TOTAL,
}
PERIOD_FROM_PROTO = {v: k for k, v in PERIOD_TO_PROTO.items()}


def set_time(target: timestamp_pb2.Timestamp, value: dt.datetime | None) -> None:
    if value is not None:
        target.FromDatetime(value)


def datetime_of(message: Any, field: str) -> dt.datetime | None:
    if not message.HasField(field):
        return None
    stamp: timestamp_pb2.Timestamp = getattr(message, field)
    return stamp.ToDatetime(tzinfo=dt.UTC)


def _role(value: int) -> Role:
    if value == kv_pb2.KEY_ROLE_UNSPECIFIED:
        return Role.CLIENT
    role = ROLE_FROM_PROTO.get(value)  # type: ignore[call-overload]
    if role is None:
        raise errors.invalid_argument(f"unknown role {value}", "role")
    return role  # type: ignore[no-any-return]


def _period(value: int) -> BudgetPeriod:
    period = PERIOD_FROM_PROTO.get(value)  # type: ignore[call-overload]
    if period is None:
        raise errors.invalid_argument(f"unknown budget_period {value}", "budget_period")
    return period  # type: ignore[no-any-return]


def _budget(text: str) -> int | None:
    if not text.strip():
        return None
    try:
        return parse_usd(text)
    except ValueError as error:
        raise errors.invalid_argument(str(error), "budget_usd") from None


def client_key_spec(request: kv_pb2.CreateClientKeyRequest) -> ClientKeySpec:
    return ClientKeySpec(
        name=request.name,
        role=_role(request.role),
        allowed_models=tuple(request.allowed_models),
        expire_time=datetime_of(request, "expire_time"),
        owner=request.owner,
        team=request.team,
        rpm_limit=request.rpm_limit,
        tpm_limit=request.tpm_limit,
        budget_micros=_budget(request.budget_usd),
        budget_period=_period(request.budget_period),
    )


_CHANGE_READERS: Mapping[str, tuple[str, Any]] = {
    "name": ("name", lambda k: k.name),
    "role": ("role", lambda k: _role(k.role)),
    "allowed_models": ("allowed_models", lambda k: tuple(k.allowed_models)),
    "expire_time": ("expire_time", lambda k: datetime_of(k, "expire_time")),
    "owner": ("owner", lambda k: k.owner),
    "team": ("team", lambda k: k.team),
    "rpm_limit": ("rpm_limit", lambda k: k.rpm_limit),
    "tpm_limit": ("tpm_limit", lambda k: k.tpm_limit),
    "budget_usd": ("budget_micros", lambda k: _budget(k.budget_usd)),
    "budget_period": ("budget_period", lambda k: _period(k.budget_period)),
}


def client_key_changes(key: kv_pb2.ClientKey, paths: list[str]) -> dict[str, Any]:
    """The spec fields an UpdateClientKey mask names, read from `key`."""
    changes: dict[str, Any] = {}
    for path in paths:
        reader = _CHANGE_READERS.get(path)
        if reader is None:
            raise errors.invalid_argument(
                f"cannot update {path!r}; updatable: {', '.join(_CHANGE_READERS)}", "update_mask"
            )
        changes[reader[0]] = reader[1](key)
    return changes


def client_key(record: ClientKeyRecord) -> kv_pb2.ClientKey:
    spec = record.spec
    key = kv_pb2.ClientKey(
        key_id=record.key_id,
        prefix=record.prefix,
        name=spec.name,
        role=ROLE_TO_PROTO.get(spec.role, kv_pb2.KEY_ROLE_UNSPECIFIED),
        allowed_models=spec.allowed_models,
        owner=spec.owner,
        team=spec.team,
        revoked=record.revoked,
        rpm_limit=spec.rpm_limit,
        tpm_limit=spec.tpm_limit,
        budget_usd="" if spec.budget_micros is None else format_usd(spec.budget_micros),
        budget_period=PERIOD_TO_PROTO[spec.budget_period],
        bootstrap=record.bootstrap,
    )
    set_time(key.create_time, record.create_time)
    set_time(key.update_time, record.update_time)
    set_time(key.expire_time, spec.expire_time)
    set_time(key.revoke_time, record.revoke_time)
    return key


def client_key_record(record: ClientKeyRecord) -> kv_pb2.ClientKeyRecord:
    return kv_pb2.ClientKeyRecord(secret_digest=record.secret_digest, key=client_key(record))


def audit_event(event: AuditEvent) -> kv_pb2.AuditEvent:
    message = kv_pb2.AuditEvent(
        event_id=str(event.event_id),
        actor_key_id=event.actor.key_id,
        actor_name=event.actor.name,
        actor_role=ROLE_TO_PROTO.get(event.actor.role, kv_pb2.KEY_ROLE_UNSPECIFIED),
        action=event.action,
        target_id=event.target_id,
        details=dict(event.details),
    )
    set_time(message.time, event.time)
    return message


def routing_revision(revision: RoutingRevision) -> kv_pb2.RoutingConfigRevision:
    message = kv_pb2.RoutingConfigRevision(
        version=revision.version, toml=revision.toml, updated_by=revision.updated_by
    )
    set_time(message.update_time, revision.update_time)
    return message
