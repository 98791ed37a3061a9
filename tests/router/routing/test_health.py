from __future__ import annotations

import asyncio

import pytest

from services.router.routing.circuit import BreakerConfig, CircuitState
from services.router.routing.health import HealthMonitor
from services.router.routing.registry import Deployment
from services.router.routing.state import RoutingConfig, RoutingState
from tests.router.routing.helpers import (
    FakeClock,
    RecordingSleep,
    bad_request,
    model_toml,
    registry_from,
    unavailable,
)


def setup(threshold: int = 2):
    registry = registry_from(
        model_toml("up"), model_toml("down", "groq"), model_toml("odd", "mock")
    )
    clock = FakeClock()
    config = RoutingConfig(breaker=BreakerConfig(failure_threshold=threshold, open_s=30))
    return RoutingState(registry, config, clock=clock), clock


async def probe(dep: Deployment) -> float:
    if dep.id == "down":
        raise unavailable()
    if dep.id == "odd":
        raise bad_request()
    return 42.0


async def test_checks_feed_breakers_and_latency():
    state, _ = setup()
    monitor = HealthMonitor(state, probe)
    results = {r.deployment_id: r for r in await monitor.run_once()}
    assert results["up"].ok and results["up"].latency_ms == 42.0
    assert not results["down"].ok and results["down"].error_code == "upstream_unavailable"
    assert results["odd"].error_code == "upstream_bad_request"
    await monitor.run_once()
    assert state.breaker("down").state is CircuitState.OPEN
    assert state.breaker("odd").state is CircuitState.CLOSED  # a refused probe says nothing
    assert state.model_latency_ms(state.registry.model("up")) == 42.0


async def test_a_passing_check_lets_an_open_circuit_probe_again():
    state, _ = setup(threshold=1)
    state.breaker("up").record_failure()
    assert state.breaker("up").state is CircuitState.OPEN
    await HealthMonitor(state, probe).run_once()
    assert state.breaker("up").state is CircuitState.HALF_OPEN


async def test_timeouts_and_crashing_probes():
    state, _ = setup(threshold=1)

    async def hangs(dep: Deployment) -> float:
        if dep.id == "up":
            await asyncio.sleep(3600)
        if dep.id == "odd":
            raise ValueError("probe bug")
        return 1.0

    results = {
        r.deployment_id: r for r in await HealthMonitor(state, hangs, timeout_s=0.01).run_once()
    }
    assert results["up"].error_code == "timeout"
    assert state.breaker("up").state is CircuitState.OPEN
    assert results["odd"].error_code == "probe_error"


async def test_run_alternates_checks_and_scheduled_self_tests():
    state, clock = setup()
    seen: list[str] = []

    async def check(dep: Deployment) -> float:
        seen.append("check")
        return 1.0

    async def self_test(dep: Deployment) -> float:
        seen.append("self_test")
        return 1.0

    sleep = RecordingSleep(clock)
    rounds = 0

    async def counting_sleep(seconds: float) -> None:
        nonlocal rounds
        rounds += 1
        await sleep(seconds)
        if rounds == 4:
            raise asyncio.CancelledError

    monitor = HealthMonitor(
        state, check, self_test=self_test, interval_s=30, self_test_interval_s=60,
        sleep=counting_sleep,
    )  # fmt: skip
    with pytest.raises(asyncio.CancelledError):
        await monitor.run()
    per_round = [seen[i : i + 3][0] for i in range(0, len(seen), 3)]
    assert per_round == ["self_test", "check", "self_test", "check"]
    assert sleep.calls == [30, 30, 30, 30]
