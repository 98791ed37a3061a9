"""Proto <-> domain conversions for client keys."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentopia.v1 import client_key_service_pb2 as ck_pb2
from agentopia.v1 import keyvault_types_pb2 as kv_types

from keyvault import errors
from keyvault.actors import ROLE_FROM_PROTO, ROLE_TO_PROTO, Role
from keyvault.client.limits import BudgetPeriod
from keyvault.client.money import format_usd, parse_usd
from keyvault.client_keys.records import ClientKeyRecord, ClientKeySpec
from keyvault.times import datetime_of, set_time

__all__ = [
    "PERIOD_TO_PROTO",
    "client_key",
    "client_key_changes",
    "client_key_record",
    "client_key_spec",
]

PERIOD_TO_PROTO = {
    BudgetPeriod.NONE: ck_pb2.BUDGET_PERIOD_UNSPECIFIED,
    BudgetPeriod.DAILY: ck_pb2.BUDGET_PERIOD_DAILY,
    BudgetPeriod.WEEKLY: ck_pb2.BUDGET_PERIOD_WEEKLY,
    BudgetPeriod.MONTHLY: ck_pb2.BUDGET_PERIOD_MONTHLY,
    BudgetPeriod.TOTAL: ck_pb2.BUDGET_PERIOD_TOTAL,
}
PERIOD_FROM_PROTO = {v: k for k, v in PERIOD_TO_PROTO.items()}


def _role(value: int) -> Role:
    if value == kv_types.KEY_ROLE_UNSPECIFIED:
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


def client_key_spec(request: ck_pb2.CreateClientKeyRequest) -> ClientKeySpec:
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
        allowed_parameters=tuple(request.allowed_parameters),
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
    "allowed_parameters": ("allowed_parameters", lambda k: tuple(k.allowed_parameters)),
}


def client_key_changes(key: ck_pb2.ClientKey, paths: list[str]) -> dict[str, Any]:
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


def client_key(record: ClientKeyRecord) -> ck_pb2.ClientKey:
    spec = record.spec
    key = ck_pb2.ClientKey(
        key_id=record.key_id,
        prefix=record.prefix,
        name=spec.name,
        role=ROLE_TO_PROTO.get(spec.role, kv_types.KEY_ROLE_UNSPECIFIED),
        allowed_models=spec.allowed_models,
        owner=spec.owner,
        team=spec.team,
        revoked=record.revoked,
        rpm_limit=spec.rpm_limit,
        tpm_limit=spec.tpm_limit,
        budget_usd="" if spec.budget_micros is None else format_usd(spec.budget_micros),
        budget_period=PERIOD_TO_PROTO[spec.budget_period],
        bootstrap=record.bootstrap,
        allowed_parameters=spec.allowed_parameters,
    )
    set_time(key.create_time, record.create_time)
    set_time(key.update_time, record.update_time)
    set_time(key.expire_time, spec.expire_time)
    set_time(key.revoke_time, record.revoke_time)
    return key


def client_key_record(record: ClientKeyRecord) -> ck_pb2.ClientKeyRecord:
    return ck_pb2.ClientKeyRecord(secret_digest=record.secret_digest, key=client_key(record))
