"""The per-call key choice (services/provider/keys/index.py) and the outcome reporter, without
I/O: tiers, smooth weighted round robin, headroom, local bench, and the bounded buffer."""

from __future__ import annotations

import collections

import pytest
from agentopia.v1 import keyvault_service_pb2 as kv_pb2
from agentopia.v1 import metrics_service_pb2 as m_pb2

from services.kernel.config import ConfigError
from services.provider.config import KeyVaultLink
from services.provider.keys import KeyIndex, Outcome, OutcomeReporter

ACTIVE = kv_pb2.PROVIDER_KEY_STATE_ACTIVE
COOLING = kv_pb2.PROVIDER_KEY_STATE_COOLING_DOWN
DISABLED = kv_pb2.PROVIDER_KEY_STATE_DISABLED
WALL = 1_800_000_000.0


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
    provider: str = "openai",
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
    chosen = (index.choose(index.pool("openai", pool)) for _ in range(n))
    return collections.Counter(slot.key_id if slot else "-" for slot in chosen)


def test_smooth_weighted_round_robin_is_exact() -> None:
    index, _ = make(leased("a", weight=3), leased("b", weight=1), leased("x", provider="groq"))
    assert picks(index, 400) == {"a": 300, "b": 100}
    window = [index.choose(index.pool("openai", "")) for _ in range(4)]
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
    assert index.pool("openai", "nobody") == ()
    slot = index.choose(index.pool("openai", "team"), avoid="a")
    assert slot is not None and slot.key_id == "b"
    assert "secret-of" not in repr(slot.credential)
    assert index.has_keys("openai") and not index.has_keys("anthropic")


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


def test_a_cooling_better_tier_does_not_hide_a_usable_worse_one() -> None:
    index, _ = make(leased("spare", weight=0), leased("main", weight=5))
    index.cool("main", 60)
    assert picks(index, 4) == {"spare": 4}


def test_key_vault_link_needs_the_token_and_hides_it() -> None:
    assert KeyVaultLink.from_env({"AGENTOPIA_KEYVAULT_TARGET": "127.0.0.1:50053"}) is None
    with pytest.raises(ConfigError, match="AGENTOPIA_KEYVAULT_TARGET"):
        KeyVaultLink.from_env({"AGENTOPIA_KEYVAULT_SERVICE_TOKEN": "svc-secret-token"})
    link = KeyVaultLink.from_env(
        {
            "AGENTOPIA_KEYVAULT_TARGET": "kv:50053",
            "AGENTOPIA_KEYVAULT_SERVICE_TOKEN": "svc-secret-token",
            "AGENTOPIA_PROVIDER_KEY_REPORT_BUFFER": "50",
        }
    )
    assert link is not None and link.target == "kv:50053" and link.report_buffer == 50
    assert "svc-secret-token" not in repr(link)


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
