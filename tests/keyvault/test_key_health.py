"""Outcomes reported by the provider service: 401/403 disable and flag a key, 429 cools it
down for Retry-After, headers update its headroom; usage and cost are counted per key."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from typing import Any

from agentopia.v1 import audit_service_pb2 as audit_pb2
from agentopia.v1 import keyvault_types_pb2 as kv_types
from agentopia.v1 import provider_key_service_pb2 as pk_pb2
from google.protobuf import duration_pb2, field_mask_pb2

from keyvault.config import KeyVaultConfig
from tests.keyvault.conftest import SERVICE_TOKEN, Vault, admin
from tests.keyvault.streams import Follower


async def _key(vault: Vault) -> str:
    created = await vault.provider_keys.CreateProviderKey(
        pk_pb2.CreateProviderKeyRequest(provider="mock", secret="sk-" + secrets.token_hex(16)),
        metadata=admin(),
    )
    return created.key.key_id


async def _report(vault: Vault, *outcomes: pk_pb2.KeyOutcome) -> int:
    response = await vault.provider_keys.ReportKeyOutcomes(
        pk_pb2.ReportKeyOutcomesRequest(outcomes=outcomes), metadata=admin(SERVICE_TOKEN)
    )
    return response.accepted


async def _get(vault: Vault, key_id: str) -> pk_pb2.ProviderKey:
    response = await vault.provider_keys.GetProviderKey(
        pk_pb2.GetProviderKeyRequest(key_id=key_id), metadata=admin()
    )
    return response.key


async def test_401_disables_and_flags_the_key(vault: Vault) -> None:
    key_id = await _key(vault)
    assert await _report(vault, pk_pb2.KeyOutcome(key_id=key_id, status=401)) == 1
    key = await _get(vault, key_id)
    assert key.state == pk_pb2.PROVIDER_KEY_STATE_DISABLED
    assert key.health.flagged and "401" in key.health.flag_reason
    events = await vault.audit.ListAuditEvents(
        audit_pb2.ListAuditEventsRequest(target_id=key_id), metadata=admin()
    )
    assert events.events[0].action == "provider_key.auto_disable"
    assert events.events[0].actor_role == kv_types.KEY_ROLE_UNSPECIFIED  # the service, not a key
    assert events.events[0].actor_key_id == "service"
    # An admin re-enables it; that clears the flag.
    patch = pk_pb2.ProviderKey(key_id=key_id, state=pk_pb2.PROVIDER_KEY_STATE_ACTIVE)
    await vault.provider_keys.UpdateProviderKey(
        pk_pb2.UpdateProviderKeyRequest(
            key=patch, update_mask=field_mask_pb2.FieldMask(paths=["state"])
        ),
        metadata=admin(),
    )
    key = await _get(vault, key_id)
    assert key.state == pk_pb2.PROVIDER_KEY_STATE_ACTIVE and not key.health.flagged


async def test_429_cools_the_key_down_until_retry_after(vault: Vault) -> None:
    await _cools_down_and_back(vault)


async def test_the_sweeper_wakes_when_the_cool_down_ends_not_on_a_period(
    start_vault: Callable[..., Any], make_config: Callable[..., KeyVaultConfig]
) -> None:
    # Its longest sleep is an hour: only the cool-down's own end can wake it in time.
    vault = await start_vault(make_config(AGENTOPIA_KEYVAULT_SWEEP_S="3600"))
    await _cools_down_and_back(vault)


async def _cools_down_and_back(vault: Vault) -> None:
    key_id = await _key(vault)
    lease: Follower[pk_pb2.WatchProviderKeysResponse] = Follower(
        vault.provider_keys.WatchProviderKeys(
            pk_pb2.WatchProviderKeysRequest(watcher="t"), metadata=admin(SERVICE_TOKEN)
        )
    )

    def state(snapshot: pk_pb2.WatchProviderKeysResponse) -> int:
        return next(k.key.state for k in snapshot.keys if k.key.key_id == key_id)

    try:
        await lease.until(lambda s: state(s) == pk_pb2.PROVIDER_KEY_STATE_ACTIVE)
        retry = duration_pb2.Duration()
        retry.FromMilliseconds(300)
        await _report(vault, pk_pb2.KeyOutcome(key_id=key_id, status=429, retry_after=retry))
        cooling = await lease.until(lambda s: state(s) == pk_pb2.PROVIDER_KEY_STATE_COOLING_DOWN)
        entry = next(k for k in cooling.keys if k.key.key_id == key_id)
        assert entry.key.health.HasField("cooldown_until")
        await lease.until(lambda s: state(s) == pk_pb2.PROVIDER_KEY_STATE_ACTIVE)  # the sweeper
    finally:
        await lease.close()


async def test_headroom_usage_and_cost_are_recorded(vault: Vault) -> None:
    key_id = await _key(vault)
    now = dt.datetime.now(dt.UTC)
    headroom = pk_pb2.RateLimitHeadroom(
        limit_requests=500, remaining_requests=420, limit_tokens=90_000, remaining_tokens=1_000
    )
    headroom.reset_time.FromDatetime(now + dt.timedelta(seconds=20))
    ok = pk_pb2.KeyOutcome(
        key_id=key_id,
        status=200,
        headroom=headroom,
        prompt_tokens=100,
        completion_tokens=20,
        cost_usd="0.0012",
    )
    failed = pk_pb2.KeyOutcome(key_id=key_id, status=500)
    unknown = pk_pb2.KeyOutcome(key_id="pkey_missing", status=200)
    for outcome in (ok, failed):
        outcome.time.FromDatetime(now)  # one hour bucket, whenever the test runs
    assert await _report(vault, ok, ok, failed, unknown) == 3
    key = await _get(vault, key_id)
    assert key.state == pk_pb2.PROVIDER_KEY_STATE_ACTIVE
    assert key.health.headroom.remaining_requests == 420
    assert key.health.headroom.remaining_tokens == 1_000
    assert key.health.last_status in (200, 500)
    usage = await vault.provider_keys.GetProviderKeyUsage(
        pk_pb2.GetProviderKeyUsageRequest(key_id=key_id), metadata=admin()
    )
    total = usage.total
    assert (total.requests, total.errors, total.rate_limited) == (3, 1, 0)
    assert (total.prompt_tokens, total.completion_tokens, total.cost_usd) == (200, 40, "0.0024")
    assert len(usage.rows) == 1 and usage.rows[0].requests == 3
