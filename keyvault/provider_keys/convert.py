"""Proto <-> domain conversions for provider keys, their health, outcomes and usage."""

from __future__ import annotations

import datetime as dt

from agentopia.v1 import provider_key_service_pb2 as pk_pb2

from keyvault import errors
from keyvault.client.money import format_usd, parse_usd
from keyvault.provider_keys.health import Outcome, UsageRow
from keyvault.provider_keys.lease import LeasedKey
from keyvault.provider_keys.records import Headroom, ProviderKeyRecord, ProviderKeyState
from keyvault.times import datetime_of, set_time, utcnow

__all__ = [
    "STATE_FROM_PROTO",
    "headroom_of",
    "leased_key",
    "outcome_of",
    "provider_key",
    "usage_row",
]

STATE_TO_PROTO = {
    ProviderKeyState.ACTIVE: pk_pb2.PROVIDER_KEY_STATE_ACTIVE,
    ProviderKeyState.COOLING_DOWN: pk_pb2.PROVIDER_KEY_STATE_COOLING_DOWN,
    ProviderKeyState.DISABLED: pk_pb2.PROVIDER_KEY_STATE_DISABLED,
    ProviderKeyState.RETIRED: pk_pb2.PROVIDER_KEY_STATE_RETIRED,
}
STATE_FROM_PROTO = {v: k for k, v in STATE_TO_PROTO.items()}


def _optional(value: int) -> int | None:
    return value if value > 0 else None


def headroom_of(message: pk_pb2.RateLimitHeadroom) -> Headroom:
    return Headroom(
        limit_requests=_optional(message.limit_requests),
        remaining_requests=message.remaining_requests if message.limit_requests else None,
        limit_tokens=_optional(message.limit_tokens),
        remaining_tokens=message.remaining_tokens if message.limit_tokens else None,
        reset_time=datetime_of(message, "reset_time"),
        observe_time=datetime_of(message, "observe_time"),
    )


def _headroom(headroom: Headroom, target: pk_pb2.RateLimitHeadroom) -> None:
    target.limit_requests = headroom.limit_requests or 0
    target.remaining_requests = headroom.remaining_requests or 0
    target.limit_tokens = headroom.limit_tokens or 0
    target.remaining_tokens = headroom.remaining_tokens or 0
    set_time(target.reset_time, headroom.reset_time)
    set_time(target.observe_time, headroom.observe_time)


def provider_key(record: ProviderKeyRecord) -> pk_pb2.ProviderKey:
    key = pk_pb2.ProviderKey(
        key_id=record.key_id,
        provider=record.provider,
        label=record.label,
        last4=record.last4,
        weight=record.weight,
        state=STATE_TO_PROTO[record.state],
        secret_version=record.secret_version,
        replaced_by=record.replaced_by,
    )
    set_time(key.create_time, record.create_time)
    set_time(key.update_time, record.update_time)
    set_time(key.retire_time, record.retire_time)
    health = key.health
    health.flagged, health.flag_reason = record.flagged, record.flag_reason
    health.last_status = record.last_status
    health.last_validate_result = record.last_validate_result
    set_time(health.cooldown_until, record.cooldown_until)
    set_time(health.last_outcome_time, record.last_outcome_time)
    set_time(health.last_validate_time, record.last_validate_time)
    if record.headroom.observe_time is not None:
        _headroom(record.headroom, health.headroom)
    return key


def leased_key(leased: LeasedKey) -> pk_pb2.LeasedProviderKey:
    return pk_pb2.LeasedProviderKey(key=provider_key(leased.record), secret=leased.secret)


def outcome_of(message: pk_pb2.KeyOutcome) -> Outcome:
    cost = 0
    if message.cost_usd:
        try:
            cost = parse_usd(message.cost_usd, param="cost_usd")
        except ValueError as error:
            raise errors.invalid_argument(str(error), "cost_usd") from None
    retry_after = None
    if message.HasField("retry_after"):
        retry_after = dt.timedelta(seconds=max(0.0, message.retry_after.ToNanoseconds() / 1e9))
    return Outcome(
        key_id=message.key_id,
        status=message.status,
        time=datetime_of(message, "time") or utcnow(),
        retry_after=retry_after,
        headroom=headroom_of(message.headroom) if message.HasField("headroom") else None,
        prompt_tokens=max(0, message.prompt_tokens),
        completion_tokens=max(0, message.completion_tokens),
        cost_micros=cost,
    )


def usage_row(row: UsageRow) -> pk_pb2.ProviderKeyUsageRow:
    message = pk_pb2.ProviderKeyUsageRow(
        requests=row.requests,
        errors=row.errors,
        rate_limited=row.rate_limited,
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        cost_usd=format_usd(row.cost_micros),
    )
    set_time(message.bucket_start, row.bucket_start)
    return message
