"""The audit log (who, when, what; newest first; paged) and the live per-key usage report."""

from __future__ import annotations

import dataclasses

from agentopia.v1 import audit_service_pb2 as audit_pb2
from agentopia.v1 import client_key_service_pb2 as ck_pb2
from agentopia.v1 import keyvault_types_pb2 as kv_types

from keyvault.client.limits import BudgetPeriod, Limits
from keyvault.client.limits.redis_limiter import RedisLimiter
from tests.keyvault.conftest import Vault, admin
from tests.support.backing import redis_url


async def test_every_change_lands_in_the_audit_log(vault: Vault) -> None:
    created = await vault.client_keys.CreateClientKey(
        ck_pb2.CreateClientKeyRequest(name="audited", rpm_limit=5), metadata=admin()
    )
    viewer = await vault.client_keys.CreateClientKey(
        ck_pb2.CreateClientKeyRequest(name="viewer", role=kv_types.KEY_ROLE_VIEWER),
        metadata=admin(),
    )
    await vault.client_keys.RevokeClientKey(
        ck_pb2.RevokeClientKeyRequest(key_id=created.key.key_id), metadata=admin()
    )
    events = await vault.audit.ListAuditEvents(
        audit_pb2.ListAuditEventsRequest(target_id=created.key.key_id),
        metadata=admin(viewer.secret),  # viewers may read the log
    )
    assert [e.action for e in events.events] == ["client_key.revoke", "client_key.create"]
    create = events.events[1]
    assert create.details["rpm_limit"] == "5" and create.details["name"] == "audited"
    assert create.actor_role == kv_types.KEY_ROLE_ADMIN and create.actor_key_id.startswith("key_")
    assert create.HasField("time")
    assert created.secret not in str(events)

    page = await vault.audit.ListAuditEvents(
        audit_pb2.ListAuditEventsRequest(page_size=2), metadata=admin()
    )
    assert len(page.events) == 2 and page.next_page_token
    rest = await vault.audit.ListAuditEvents(
        audit_pb2.ListAuditEventsRequest(page_size=100, page_token=page.next_page_token),
        metadata=admin(),
    )
    ids = [int(e.event_id) for e in [*page.events, *rest.events]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    assert "client_key.bootstrap" in {e.action for e in rest.events}


async def test_client_key_usage_is_read_from_the_shared_limiter(
    vault: Vault, redis_prefix: str
) -> None:
    created = await vault.client_keys.CreateClientKey(
        ck_pb2.CreateClientKeyRequest(
            rpm_limit=60,
            tpm_limit=1000,
            budget_usd="2",
            budget_period=ck_pb2.BUDGET_PERIOD_DAILY,
        ),
        metadata=admin(),
    )
    key = created.key
    router = RedisLimiter.from_url(redis_url(), prefix=redis_prefix)  # what a router replica runs
    try:
        limits = Limits.of(key)
        assert limits == Limits(60, 1000, 2_000_000, BudgetPeriod.DAILY)
        done = await router.reserve(key.key_id, limits, tokens=100, cost_micros=5_000)
        await router.settle(done, tokens=80, cost_micros=4_000)
        await router.reserve(key.key_id, dataclasses.replace(limits), tokens=50, cost_micros=1_000)
    finally:
        await router.aclose()
    report = await vault.client_keys.GetClientKeyUsage(
        ck_pb2.GetClientKeyUsageRequest(key_id=key.key_id), metadata=admin()
    )
    usage = report.usage
    assert (usage.requests_last_minute, usage.tokens_last_minute, usage.in_flight) == (2, 130, 1)
    assert (usage.spent_usd, usage.reserved_usd, usage.budget_usd) == ("0.004", "0.001", "2.00")
    assert (usage.requests_in_period, usage.tokens_in_period) == (1, 80)
    assert usage.budget_period == ck_pb2.BUDGET_PERIOD_DAILY and usage.HasField("period_start")
