"""The issue's "done means", proven at the library level with seeded simulations:
select + plan against simulated deployments on a fake clock (no network, no timing)."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from services.router.routing.circuit import BreakerConfig, CircuitState
from services.router.routing.loader import load_default
from services.router.routing.plan import Attempt
from services.router.routing.requirements import Prefer, Requirements
from services.router.routing.retry import RetryPolicy
from services.router.routing.state import RoutingConfig
from tests.router.routing.helpers import (
    Simulator,
    caps,
    failing,
    flaky,
    model_toml,
    ok,
    profile,
    registry_from,
    unavailable,
)


def primary_with_fallback(deployments: str = ""):
    return registry_from(
        model_toml("primary", "openai", fallbacks=("backup",), deployments=deployments),
        model_toml("backup", "anthropic"),
    )


async def test_30_percent_failures_on_the_primary_still_succeed_99_9_percent():
    rng = random.Random(30)
    fault = {"on": True}

    def primary(attempt):
        failed = fault["on"] and rng.random() < 0.30
        return 0.05, unavailable() if failed else None

    s = Simulator(
        primary_with_fallback(),
        {"primary": primary, "backup": flaky(0.01, rng, latency=0.08)},
        seed=30,
    )
    results = []
    for _ in range(10_000):
        served, _attempts, _error = await s.request("primary")
        results.append(served.model.id if served else None)
        s.clock.advance(0.01)
    success = sum(r is not None for r in results) / len(results)
    assert success >= 0.999, success
    assert results.count("primary") > 5000  # failover takes the failures, not all traffic

    fault["on"] = False  # the fault clears: traffic returns to the primary
    s.clock.advance(120)
    after = []
    for _ in range(1000):
        served, _attempts, _error = await s.request("primary")
        after.append(served.model.id)
        s.clock.advance(0.01)
    assert after[-900:].count("primary") == 900


async def test_hard_outage_costs_at_most_one_failed_attempt_per_request():
    s = Simulator(
        primary_with_fallback(),
        {"primary": failing(), "backup": ok()},
        RoutingConfig(breaker=BreakerConfig(failure_threshold=5, open_s=5, max_open_s=30)),
    )
    failed_per_request = []
    for _ in range(3000):  # 3000 requests over 300 s
        served, attempts, _error = await s.request("primary")
        assert served is not None and served.model.id == "backup"
        failed_per_request.append(sum(a.outcome != "success" for a in attempts))
        s.clock.advance(0.1)
    assert max(failed_per_request) == 1
    # Only the five that opened the circuit, then one probe per cool-down (5, 10, 20, 30 s...).
    assert failed_per_request[:5] == [1] * 5
    assert sum(failed_per_request) <= 5 + 300 / 5
    assert sum(failed_per_request[5:]) >= 5  # the probes go on, so recovery is noticed


async def test_a_provider_outage_on_the_shipped_registry_fails_over_across_providers():
    registry = load_default()
    openai = {d.id for m in registry.listed if m.provider == "openai" for d in m.deployments}
    behaviours = {d: failing() if d in openai else ok() for d in registry.deployments}
    s = Simulator(registry, behaviours)
    for model in ("gpt-4o", "gpt-4o-mini", "gpt-4.1", "smart", "auto"):
        for _ in range(20):
            served, attempts, error = await s.request(model)
            assert error is None and served.provider != "openai"
            assert sum(a.outcome != "success" for a in attempts) <= 1


async def test_weights_hold_within_5_percent_over_1000_requests():
    deps = (
        '[[models.deployments]]\nid = "k1"\nweight = 6\n'
        '[[models.deployments]]\nid = "k2"\nweight = 3\n'
        '[[models.deployments]]\nid = "k3"\nweight = 1\n'
    )
    s = Simulator(primary_with_fallback(deps), {"k1": ok(), "k2": ok(), "k3": ok()})
    counts = Counter()
    for _ in range(1000):
        served, _a, _e = await s.request("primary")
        counts[served.deployment.id] += 1
    for dep, share in (("k1", 0.6), ("k2", 0.3), ("k3", 0.1)):
        assert abs(counts[dep] / 1000 - share) <= 0.05


@pytest.mark.parametrize("strategy", ["least_outstanding", "latency"])
async def test_adaptive_balancing_moves_traffic_off_a_slow_deployment(strategy):
    deps = '[[models.deployments]]\nid = "fast"\n[[models.deployments]]\nid = "slow"\n'
    registry = registry_from(model_toml("m", extra=f'balancer = "{strategy}"\n', deployments=deps))
    s = Simulator(registry, {})
    service = {"fast": 0.05, "slow": 2.0}
    in_flight: list[tuple[float, Attempt]] = []
    counts = Counter()
    for tick in range(2000):  # a request every 10 ms; slow requests stay in flight 2 s
        now = 1000.0 + tick * 0.01
        for end, attempt in sorted(in_flight, key=lambda item: item[0]):
            if end <= now:
                s.clock.now = end
                attempt.succeed()
        in_flight = [(end, a) for end, a in in_flight if not a.resolved]
        s.clock.now = now
        attempt = await s.planner.attempts(s.decide("m")).__anext__()
        counts[attempt.deployment.id] += 1
        in_flight.append((now + service[attempt.deployment.id], attempt))
    assert counts["slow"] / 2000 < 0.10, counts
    weighted = Simulator(registry_from(model_toml("m", deployments=deps)), {})
    picks = Counter()
    for _ in range(1000):
        attempt = await weighted.planner.attempts(weighted.decide("m")).__anext__()
        picks[attempt.deployment.id] += 1
        attempt.succeed()
    assert picks["slow"] == 500  # plain weights ignore speed


async def test_auto_with_requirements_picks_the_cheapest_and_the_fastest():
    registry = load_default()
    behaviours = {d: ok() for d in registry.deployments}
    s = Simulator(registry, behaviours)
    cheap = s.decide("auto", Requirements(capabilities=caps("tools", "vision")))
    assert cheap.primary.id == "gpt-4.1-nano" and "cheapest" in cheap.reason
    fast = s.decide("auto", Requirements(prefer=Prefer.LATENCY, providers=frozenset({"anthropic"})))
    assert fast.primary.id == "claude-haiku-4-5" and "fastest" in fast.reason
    served, _a, _e = await s.request("auto", prof=profile(500_000))
    assert served.model.context_window >= 1_000_000


async def test_retry_budget_caps_retries_during_an_outage():
    deps = "".join(f'[[models.deployments]]\nid = "d{i}"\n' for i in range(4))
    registry = registry_from(model_toml("m", deployments=deps))
    config = RoutingConfig(
        breaker=BreakerConfig(failure_threshold=10**9, min_volume=10**9),  # breakers out of play
        retry=RetryPolicy(max_attempts=4),
        budget_ratio=0.2,
        budget_min_per_s=0.1,
        budget_max_balance=10.0,
    )
    s = Simulator(registry, {f"d{i}": failing() for i in range(4)}, config)
    start = s.clock.now
    attempts_total = 0
    n = 2000
    for _ in range(n):
        _served, attempts, error = await s.request("m")
        assert error is not None
        attempts_total += len(attempts)
        s.clock.advance(0.05)
    retries = attempts_total - n
    elapsed = s.clock.now - start  # requests, attempts and backoff sleeps
    assert retries <= 10 + 0.2 * n + 0.1 * elapsed  # the budget's bound
    assert attempts_total < 1.3 * n  # without a budget: 4 attempts per request


async def test_circuit_state_is_visible_in_snapshots():
    s = Simulator(
        primary_with_fallback(),
        {"primary": failing(), "backup": ok(0.2)},
        RoutingConfig(breaker=BreakerConfig(failure_threshold=2)),
    )
    for _ in range(3):
        await s.request("primary")
    snap = {d.deployment_id: d for d in s.state.snapshot()}
    assert snap["primary"].circuit is CircuitState.OPEN and snap["primary"].retry_after_s > 0
    assert snap["backup"].circuit is CircuitState.CLOSED
    assert snap["backup"].latency_ewma_ms == pytest.approx(200.0)
    assert snap["backup"].outstanding == 0 and snap["backup"].window_successes == 3
