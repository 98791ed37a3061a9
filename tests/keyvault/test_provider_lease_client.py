"""keyvault.client.provider_keys, the one provider-key lease: the per-call choice (tiers,
smooth weighted round robin over weight x headroom, local benching on 401/403/429), the
bounded outcome reporter, header-shape parsing, and the lease itself following a real
key vault and reporting back to it."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from agentopia.v1 import metrics_service_pb2 as m_pb2
from agentopia.v1 import provider_key_service_pb2 as kv_pb2

from keyvault.client.provider_keys import (
    Credential,
    KeyIndex,
    LeaseSettings,
    Outcome,
    OutcomeReporter,
    ProviderKeyLease,
    headroom_from_headers,
    parse_reset,
)
from services.kernel.config import ConfigError
from services.kernel.errors import GatewayError
from tests.keyvault.conftest import SERVICE_TOKEN, Vault, admin

ACTIVE = kv_pb2.PROVIDER_KEY_STATE_ACTIVE
COOLING = kv_pb2.PROVIDER_KEY_STATE_COOLING_DOWN
DISABLED = kv_pb2.PROVIDER_KEY_STATE_DISABLED
WALL = 1_800_000_000.0
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
SAFETY_S = 30.0  # hang guard, never an assertion


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def mono(self) -> float:
        return self.now

    def wall(self) -> float:
        return WALL + self.now


def leased(
    key_id: str,
    *,
    weight: int = 1,
    state: kv_pb2.ProviderKeyState.ValueType = ACTIVE,
    label: str = "",
    overlapping: bool = False,
    cooldown_until: float | None = None,
    provider: str = "acme",
) -> kv_pb2.LeasedProviderKey:
    key = kv_pb2.ProviderKey(
        key_id=key_id, provider=provider, label=label, weight=weight, state=state
    )
    if overlapping:
        key.retire_time.FromSeconds(int(WALL) + 3600)
    if cooldown_until is not None:
        key.health.cooldown_until.FromNanoseconds(int(cooldown_until * 1e9))
    return kv_pb2.LeasedProviderKey(key=key, secret=f"secret-of-{key_id}")


def make(*keys: kv_pb2.LeasedProviderKey) -> tuple[KeyIndex, Clock]:
    clock = Clock()
    index = KeyIndex(clock=clock.mono, wall=clock.wall)
    index.apply(keys, version=1)
    return index, clock


def picks(index: KeyIndex, n: int, pool: str = "") -> collections.Counter[str]:
    chosen = (index.choose(index.pool("acme", pool)) for _ in range(n))
    return collections.Counter(slot.key_id if slot else "-" for slot in chosen)


# ---- the per-call choice -------------------------------------------------------------


def test_smooth_weighted_round_robin_is_exact() -> None:
    index, _ = make(leased("a", weight=3), leased("b", weight=1), leased("x", provider="other"))
    assert picks(index, 400) == {"a": 300, "b": 100}
    window = [index.choose(index.pool("acme", "")) for _ in range(4)]
    assert sorted(s.key_id for s in window if s) == ["a", "a", "a", "b"]  # any 4 in a row


def test_tiers_prefer_active_then_standby_then_overlap() -> None:
    index, _ = make(
        leased("new", weight=2),
        leased("spare", weight=0),
        leased("old", weight=2, overlapping=True),
    )
    assert picks(index, 20) == {"new": 20}
    index.disable("new")
    assert picks(index, 20) == {"spare": 20}
    index.disable("spare")
    assert picks(index, 20) == {"old": 20}
    index.disable("old")
    assert picks(index, 3) == {"-": 3}


def test_cooling_keys_are_a_last_resort_the_first_to_recover_wins() -> None:
    index, clock = make(
        leased("a"), leased("b"), leased("c", state=COOLING, cooldown_until=WALL + 150)
    )
    index.cool("a", 30)
    assert picks(index, 10) == {"b": 10}
    index.cool("b", 90)
    assert picks(index, 3) == {"a": 3}  # all cooling: "a" recovers first (t+30 < t+50 < t+90)
    clock.now += 31
    assert picks(index, 3) == {"a": 3}  # active again
    index.disable("a")
    assert picks(index, 3) == {"c": 3}  # the vault's cool-down ends at t+50, before "b"
    clock.now += 20  # the vault's cool-down has passed, even with no new snapshot
    assert picks(index, 3) == {"c": 3}


def test_a_cooling_better_tier_does_not_hide_a_usable_worse_one() -> None:
    index, _ = make(leased("spare", weight=0), leased("main", weight=5))
    index.cool("main", 60)
    assert picks(index, 4) == {"spare": 4}


def test_a_local_401_holds_until_the_vault_disables_then_the_vault_rules() -> None:
    index, _ = make(leased("a"), leased("b"))
    index.disable("a")
    index.apply([leased("a"), leased("b")], version=2)  # the vault has not seen it yet
    assert picks(index, 4) == {"b": 4}
    index.apply([leased("a", state=DISABLED), leased("b")], version=3)
    assert picks(index, 4) == {"b": 4}
    index.apply([leased("a"), leased("b")], version=4)  # an admin re-enabled it
    assert picks(index, 4) == {"a": 2, "b": 2}


def test_headroom_steers_traffic_until_the_window_resets() -> None:
    index, clock = make(leased("a"), leased("b"))
    low = kv_pb2.RateLimitHeadroom(limit_requests=100, remaining_requests=5)
    low.observe_time.FromNanoseconds(int(clock.wall() * 1e9))
    low.reset_time.FromNanoseconds(int((clock.wall() + 10) * 1e9))
    index.observe_headroom("a", low)
    assert picks(index, 210) == {"a": 10, "b": 200}  # 5 % headroom: weight 0.05 vs 1
    clock.now += 11
    assert picks(index, 200) == {"a": 100, "b": 100}


def test_pools_by_label_and_avoid() -> None:
    index, _ = make(leased("a", label="team"), leased("b", label="team"), leased("c"))
    assert set(picks(index, 6, "team")) == {"a", "b"}
    assert set(picks(index, 6)) == {"a", "b", "c"}
    assert index.pool("acme", "nobody") == ()
    slot = index.choose(index.pool("acme", "team"), avoid="a")
    assert slot is not None and slot.key_id == "b"
    assert "secret-of" not in repr(slot.credential)
    assert index.has_keys("acme") and not index.has_keys("nobody")


def test_health_reports_what_this_replica_will_do() -> None:
    index, _ = make(leased("pk_a"), leased("pk_b"), leased("pk_c"), leased("pk_d"))
    index.disable("pk_b")
    index.cool("pk_c", 30.0)
    health = {key_id: value for _, key_id, value in index.health()}
    assert health == {
        "pk_a": m_pb2.KEY_HEALTH_HEALTHY,
        "pk_b": m_pb2.KEY_HEALTH_FAILING,
        "pk_c": m_pb2.KEY_HEALTH_COOLING_DOWN,
        "pk_d": m_pb2.KEY_HEALTH_HEALTHY,
    }


# ---- outcomes and settings -------------------------------------------------------------


async def test_reporter_batches_retries_and_stays_bounded() -> None:
    sent: list[list[str]] = []
    fail = True
    seen: dict[str, int] = {}

    async def send(request: kv_pb2.ReportKeyOutcomesRequest) -> None:
        if fail:
            raise ConnectionError("vault away")
        sent.append([o.key_id for o in request.outcomes])

    reporter = OutcomeReporter(
        send,
        on_headroom=lambda key_id, h: seen.__setitem__(key_id, h.remaining_requests),
        capacity=1500,
    )
    headers = {"x-ratelimit-limit-requests": "10", "x-ratelimit-remaining-requests": "7"}
    for i in range(1600):
        reporter.add(Outcome(f"k{i}", 200, WALL, rate_limits=headers if i == 1599 else {}))
    assert reporter.dropped == 100 and reporter.pending == 1500
    assert not await reporter.flush()  # the first batch failed and is kept
    assert reporter.pending == 1500
    fail = False
    assert await reporter.flush()
    assert [len(batch) for batch in sent] == [1000, 500]
    assert sent[0][0] == "k100"  # the oldest were dropped
    assert seen == {"k1599": 7} and reporter.pending == 0


def test_outcome_protos_carry_status_retry_after_and_headroom() -> None:
    outcome, headroom = Outcome(
        "k", 429, WALL, retry_after_s=2.5, rate_limits={"x-ratelimit-remaining-tokens": "9"}
    ).to_proto()
    assert (outcome.key_id, outcome.status) == ("k", 429)
    assert outcome.retry_after.ToNanoseconds() == 2_500_000_000
    assert outcome.time.ToNanoseconds() == pytest.approx(WALL * 1e9)
    assert headroom is not None and outcome.headroom.remaining_tokens == 9


def test_lease_settings_need_the_token_and_hide_it() -> None:
    assert LeaseSettings.from_env({"AGENTOPIA_KEYVAULT_TARGET": "127.0.0.1:50053"}) is None
    with pytest.raises(ConfigError, match="AGENTOPIA_KEYVAULT_TARGET"):
        LeaseSettings.from_env({"AGENTOPIA_KEYVAULT_SERVICE_TOKEN": "svc-secret-token"})
    settings = LeaseSettings.from_env(
        {
            "AGENTOPIA_KEYVAULT_TARGET": "kv:50053",
            "AGENTOPIA_KEYVAULT_SERVICE_TOKEN": "svc-secret-token",
            "AGENTOPIA_PROVIDER_KEY_REPORT_BUFFER": "50",
        }
    )
    assert settings is not None and settings.target == "kv:50053"
    assert settings.report_buffer == 50
    assert "svc-secret-token" not in repr(settings)


def test_headers_are_read_by_shape() -> None:
    dashed = headroom_from_headers(
        {
            "x-ratelimit-limit-requests": "500",
            "x-ratelimit-remaining-requests": "499",
            "x-ratelimit-limit-tokens": "30000",
            "x-ratelimit-remaining-tokens": "29000",
            "x-ratelimit-reset-tokens": "6m0s",
            "content-type": "application/json",
        },
        NOW,
    )
    assert dashed is not None
    assert (dashed.limit_requests, dashed.remaining_requests) == (500, 499)
    assert (dashed.limit_tokens, dashed.remaining_tokens) == (30000, 29000)
    assert dashed.reset_time.ToDatetime(tzinfo=dt.UTC) == NOW + dt.timedelta(minutes=6)
    suffixed = headroom_from_headers(
        {
            "vendor-ratelimit-requests-limit": "50",
            "vendor-ratelimit-requests-remaining": "10",
            "vendor-ratelimit-input-tokens-remaining": "5",
            "vendor-ratelimit-requests-reset": "2026-01-01T00:00:30Z",
        },
        NOW,
    )
    assert suffixed is not None
    assert (suffixed.limit_requests, suffixed.remaining_requests) == (50, 10)
    assert suffixed.limit_tokens == 0  # split input/output budgets are ignored
    assert headroom_from_headers({"retry-after": "3"}, NOW) is None
    assert parse_reset("20ms", NOW) == NOW + dt.timedelta(milliseconds=20)
    assert parse_reset("1.5", NOW) == NOW + dt.timedelta(seconds=1.5)
    assert parse_reset("soon", NOW) is None


# ---- the lease against a real key vault ----------------------------------------------


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
async def lease(vault: Vault) -> AsyncIterator[ProviderKeyLease]:
    settings = LeaseSettings(
        target=vault.running.target,
        service_token=SERVICE_TOKEN,
        watcher="lease-test",
        report_interval_s=0.05,
    )
    client = ProviderKeyLease(settings, ("acme", "other"), channel=vault.channel)
    task = asyncio.create_task(client.run())
    assert await client.wait_ready()
    yield client
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await client.close()


async def _key(vault: Vault, weight: int = 1, provider: str = "acme", label: str = "") -> str:
    created = await vault.provider_keys.CreateProviderKey(
        kv_pb2.CreateProviderKeyRequest(
            provider=provider, label=label, secret="sk-" + secrets.token_hex(16), weight=weight
        ),
        metadata=admin(),
    )
    return created.key.key_id


async def _until(check: Callable[[], bool | Awaitable[bool]]) -> None:
    async def loop() -> None:
        while True:
            result = check()
            if result if isinstance(result, bool) else await result:
                return
            await asyncio.sleep(0.02)

    await asyncio.wait_for(loop(), SAFETY_S)


def _chosen(lease: ProviderKeyLease, n: int, pool: str = "") -> collections.Counter[str]:
    keys = (lease.credential("acme", pool, required=False) for _ in range(n))
    return collections.Counter(key.key_id if key else "-" for key in keys)


async def _key_state(vault: Vault, key_id: str) -> kv_pb2.ProviderKey:
    got = await vault.provider_keys.GetProviderKey(
        kv_pb2.GetProviderKeyRequest(key_id=key_id), metadata=admin()
    )
    return got.key


async def test_the_lease_follows_weights_pools_and_providers(
    vault: Vault, lease: ProviderKeyLease
) -> None:
    light, heavy = await _key(vault, 1), await _key(vault, 3, label="team")
    elsewhere = await _key(vault, 5, provider="other")
    await _until(lambda: lease.index.slot(elsewhere) is not None)
    assert lease.ready and lease.has_keys("acme")
    assert _chosen(lease, 400) == {heavy: 300, light: 100}
    assert _chosen(lease, 4, "team") == {heavy: 4}
    assert lease.credential("acme", "nobody", required=True) is None  # no such pool here
    explicit = lease.credential("acme", light, required=True)
    assert explicit is not None and explicit.secret not in repr(explicit)
    with pytest.raises(GatewayError) as foreign:
        lease.credential("acme", elsewhere, required=True)
    assert foreign.value.code == "credential_not_found"
    assert lease.owns(explicit) and not lease.owns(Credential("env:ACME_KEY", "x"))


async def test_headroom_and_rotation_steer_traffic(vault: Vault, lease: ProviderKeyLease) -> None:
    first, second = await _key(vault), await _key(vault)
    await _until(lambda: lease.index.slot(second) is not None)
    reset = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)).isoformat()
    credential = lease.credential("acme", first, required=True)
    assert credential is not None
    lease.succeeded(credential, {"x-ratelimit-limit-requests": "100",
                                 "x-ratelimit-remaining-requests": "1",
                                 "x-ratelimit-reset-requests": reset})  # fmt: skip
    assert await lease.reporter.flush()  # headers become headroom as the batch is sent
    chosen = _chosen(lease, 210)
    assert chosen[second] > 8 * chosen[first]  # 5 % headroom left on the first key

    async def reported() -> bool:
        return (await _key_state(vault, first)).health.headroom.remaining_requests == 1

    await _until(reported)
    await vault.provider_keys.RotateProviderKey(
        kv_pb2.RotateProviderKeyRequest(key_id=second, secret="sk-" + secrets.token_hex(16)),
        metadata=admin(),
    )
    await _until(lambda: (slot := lease.index.slot(second)) is not None and slot.overlapping)
    assert second not in _chosen(lease, 200)  # in the overlap: a fallback only


async def test_rejections_bench_keys_here_and_reach_the_vault(
    vault: Vault, lease: ProviderKeyLease
) -> None:
    bad, limited = await _key(vault), await _key(vault)
    await _until(lambda: lease.index.slot(limited) is not None)
    bad_key = lease.credential("acme", bad, required=True)
    limited_key = lease.credential("acme", limited, required=True)
    assert bad_key is not None and limited_key is not None
    assert lease.failed("acme", "", bad_key, 401, may_retry=True) == limited_key  # retry once
    assert lease.failed("acme", "", limited_key, 429, retry_after_s=60) is None
    # At once, on this replica: the rejected key never again, the limited one only as
    # the last resort.
    assert _chosen(lease, 5) == {limited: 5}

    async def cooling() -> bool:
        return (await _key_state(vault, limited)).state == COOLING

    await _until(cooling)
    lease.failed("acme", "", limited_key, 401)
    with pytest.raises(GatewayError) as unusable:
        lease.credential("acme", "", required=True)
    assert unusable.value.code == "provider_not_configured"

    async def disabled() -> bool:
        key = await _key_state(vault, bad)
        return key.state == DISABLED and key.health.flagged

    await _until(disabled)
