from __future__ import annotations

import heapq
import random
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.router.routing.balancer import DeploymentStats, ModelBalancer, Strategy
from services.router.routing.registry import Deployment
from tests.router.routing.helpers import FakeClock


def deps(*weights: int) -> list[Deployment]:
    return [
        Deployment(id=f"d{i}", model="m", provider="p", upstream_id="u", weight=w)
        for i, w in enumerate(weights)
    ]


def balancer(*weights: int, strategy=Strategy.WEIGHTED, seed=1, clock=None) -> ModelBalancer:
    return ModelBalancer(
        deps(*weights), strategy, rng=random.Random(seed), clock=clock or FakeClock()
    )


def test_weighted_spreads_by_weight_within_5_percent_over_1000_picks():
    lb = balancer(5, 3, 2)
    counts = Counter(lb.pick().id for _ in range(1000))
    for dep, weight in zip(("d0", "d1", "d2"), (5, 3, 2), strict=True):
        assert abs(counts[dep] / 1000 - weight / 10) <= 0.05
    assert counts == {"d0": 500, "d1": 300, "d2": 200}  # smooth WRR is exact


@given(st.lists(st.integers(min_value=1, max_value=20), min_size=1, max_size=6))
def test_weighted_is_exact_for_any_weights(weights):
    lb = balancer(*weights)
    total = sum(weights)
    rounds = max(1, 1000 // total)
    counts = Counter(lb.pick().id for _ in range(total * rounds))
    assert all(counts[f"d{i}"] == w * rounds for i, w in enumerate(weights))


def test_smooth_round_robin_interleaves():
    lb = balancer(2, 1)
    assert [lb.pick().id for _ in range(6)] == ["d0", "d1", "d0", "d0", "d1", "d0"]


def test_zero_weight_deployments_get_nothing_and_eligibility_filters():
    lb = balancer(1, 0, 1)
    assert {lb.pick().id for _ in range(10)} == {"d0", "d2"}
    assert lb.pick(lambda d: d.id == "d2").id == "d2"
    assert lb.pick(lambda d: False) is None


def test_leases_count_outstanding_and_release_once():
    lb = balancer(1, 1)
    dep = lb.deployments[0]
    first, second = lb.acquire(dep), lb.acquire(dep)
    assert lb.stats["d0"].outstanding == 2
    first.release(10.0)
    first.release(10.0)
    assert lb.stats["d0"].outstanding == 1
    second.release()
    assert lb.stats["d0"].outstanding == 0
    assert lb.stats["d0"].samples == 1


def test_least_outstanding_avoids_the_busy_deployment():
    lb = balancer(1, 1, 1, strategy=Strategy.LEAST_OUTSTANDING)
    held = [lb.acquire(lb.deployments[0]) for _ in range(3)]
    picks = Counter(lb.pick().id for _ in range(100))
    assert picks["d0"] == 0 and picks["d1"] == picks["d2"] == 50
    for lease in held:
        lease.release()
    assert lb.pick().id in {"d0", "d1", "d2"}


def test_ewma_tracks_and_decays_toward_the_prior():
    stats = DeploymentStats(tau_s=10.0)
    stats.observe(100.0, now=0.0)
    for t in range(1, 20):
        stats.observe(1000.0, now=float(t))
    assert 850 < stats.ewma_ms <= 1000
    assert stats.estimate(now=19.0, prior=100.0) == pytest.approx(stats.ewma_ms)
    assert stats.estimate(now=19.0 + 600, prior=100.0) < 1.0
    assert DeploymentStats().estimate(now=5.0, prior=42.0) == 42.0


def simulate(strategy: Strategy, service_s: dict[str, float], *, n=4000, rate=200.0, seed=5):
    """Open-loop arrivals at `rate`/s; each deployment takes its service time.
    Returns the share of requests each deployment served."""
    clock = FakeClock(0.0)
    lb = ModelBalancer(
        deps(*([1] * len(service_s))), strategy, rng=random.Random(seed), clock=clock
    )
    done: list[tuple[float, int, object, float]] = []
    counts: Counter[str] = Counter()
    for i in range(n):
        clock.now = i / rate
        while done and done[0][0] <= clock.now:
            end, _, lease, latency = heapq.heappop(done)
            clock.now, now = end, clock.now
            lease.release(latency * 1000)
            clock.now = now
        dep = lb.pick()
        counts[dep.id] += 1
        service = service_s[dep.id]
        heapq.heappush(done, (clock.now + service, i, lb.acquire(dep), service))
    return {d: counts[d] / n for d in service_s}


@pytest.mark.parametrize("strategy", [Strategy.LEAST_OUTSTANDING, Strategy.LATENCY])
def test_adaptive_strategies_move_traffic_off_a_slow_deployment(strategy):
    shares = simulate(strategy, {"d0": 0.05, "d1": 0.05, "d2": 1.0})
    assert shares["d2"] < 0.10, shares
    assert shares["d0"] > 0.40 and shares["d1"] > 0.40
    weighted = simulate(Strategy.WEIGHTED, {"d0": 0.05, "d1": 0.05, "d2": 1.0})
    assert weighted["d2"] == pytest.approx(1 / 3, abs=0.01)


def test_latency_strategy_returns_to_a_recovered_deployment():
    clock = FakeClock(0.0)
    lb = ModelBalancer(deps(1, 1), Strategy.LATENCY, rng=random.Random(2), clock=clock)
    for _ in range(20):
        lb.observe("d0", 50.0)
        lb.observe("d1", 2000.0)
        clock.advance(0.1)
    assert Counter(lb.pick().id for _ in range(100))["d1"] == 0
    clock.advance(600)  # d1 unmeasured for a long time: its estimate decays
    lb.observe("d0", 50.0)
    picks = Counter()
    for _ in range(200):
        dep = lb.pick()
        picks[dep.id] += 1
        lb.acquire(dep).release(50.0)  # both are fast now
        clock.advance(0.5)
    assert picks["d1"] > 40


def test_model_latency_is_the_best_deployment():
    lb = balancer(1, 1)
    assert lb.latency_ms() is None
    lb.observe("d0", 300.0)
    lb.observe("d1", 100.0)
    lb.observe("nope", 1.0)
    assert lb.latency_ms() == 100.0
