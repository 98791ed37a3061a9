from __future__ import annotations

import grpc
import pytest

from services.kernel.errors import GatewayError
from services.router.routing.circuit import BreakerConfig, CircuitState
from services.router.routing.plan import AttemptKind
from services.router.routing.retry import RetryPolicy
from services.router.routing.state import RoutingConfig
from tests.router.routing.helpers import (
    Simulator,
    bad_request,
    failing,
    model_toml,
    ok,
    profile,
    registry_from,
    unavailable,
)

TWO_DEPLOYMENTS = '[[models.deployments]]\nid = "a1"\n[[models.deployments]]\nid = "a2"\n'


def chain_registry():
    return registry_from(
        model_toml("a", fallbacks=("b",), deployments=TWO_DEPLOYMENTS),
        model_toml("b", "anthropic", fallbacks=("c",), window=200_000),
        model_toml("c", "groq", window=1_000_000),
    )


def sim(behaviours, registry=None, **config):
    return Simulator(registry or chain_registry(), behaviours, RoutingConfig(**config))


def trace(attempts):
    return [(a.deployment.id, a.kind.value, a.outcome) for a in attempts]


async def test_primary_success_is_one_attempt():
    s = sim({"a1": ok(), "a2": ok(), "b": ok(), "c": ok()})
    served, attempts, error = await s.request("a")
    assert error is None and len(attempts) == 1 and attempts[0].kind is AttemptKind.PRIMARY
    assert served.response_model == "a" and served.provider == "openai"
    assert served.upstream_model == "a" and served.credential_id == ""
    # A non-streaming answer's first byte is its end: only the total limit applies.
    assert (served.timeout_s, served.first_byte_timeout_s) == (600.0, 600.0)


async def test_retry_sibling_then_fail_over_along_the_chain():
    s = sim({"a1": failing(), "a2": failing(), "b": failing(), "c": ok()})
    served, attempts, error = await s.request("a")
    assert error is None and served.model.id == "c"
    assert {a.deployment.id for a in attempts[:2]} == {"a1", "a2"}
    assert trace(attempts)[2:] == [
        ("b", "failover", "upstream_unavailable"),
        ("c", "failover", "success"),
    ]
    assert [a.kind.value for a in attempts] == ["primary", "retry", "failover", "failover"]


async def test_final_errors_do_not_fail_over():
    s = sim({"a1": failing(bad_request), "a2": failing(bad_request), "b": ok(), "c": ok()})
    served, attempts, error = await s.request("a")
    assert served is None and error.code == "upstream_bad_request" and len(attempts) == 1
    # the deployment answered: the circuit counts it healthy
    assert s.state.breaker(attempts[0].deployment).state is CircuitState.CLOSED


async def test_context_error_skips_to_a_larger_window():
    def too_long():
        return GatewayError(grpc.StatusCode.INVALID_ARGUMENT, "context_length_exceeded", "long")

    registry = registry_from(
        model_toml("small", window=8_000, fallbacks=("same", "big")),
        model_toml("same", window=8_000),
        model_toml("big", window=1_000_000),
    )
    s = sim({"small": failing(too_long), "same": ok(), "big": ok()}, registry)
    served, attempts, _ = await s.request("small")
    assert served.model.id == "big" and len(attempts) == 2


async def test_a_stream_fails_for_good_after_the_first_byte():
    s = sim({})
    plan = s.planner.attempts(s.decide("a"))
    with pytest.raises(GatewayError) as info:
        async for attempt in plan:
            attempt.first_byte()
            attempt.fail(unavailable())
    assert info.value.code == "upstream_unavailable"
    assert len(plan.attempts) == 1


async def test_stream_latency_is_time_to_first_byte():
    s = sim({})
    async with s.planner.attempts(s.decide("b")) as plan:
        async for attempt in plan:
            s.clock.advance(0.2)
            attempt.first_byte()
            s.clock.advance(5.0)
            attempt.succeed()
    assert s.state.balancer(s.registry.model("b")).latency_ms() == pytest.approx(200.0)


async def test_max_attempts_bounds_the_request():
    s = sim({"a1": failing(), "a2": failing(), "b": failing(), "c": failing()},
            retry=RetryPolicy(max_attempts=2))  # fmt: skip
    _, attempts, error = await s.request("a")
    assert len(attempts) == 2 and error.code == "upstream_unavailable"


async def test_second_pass_backs_off_and_honours_retry_after():
    registry = registry_from(model_toml("solo"))
    calls = iter([unavailable(retry_after=1.5), unavailable(), None])
    s = sim({"solo": lambda _a: (0.01, next(calls))}, registry)
    served, attempts, _ = await s.request("solo")
    assert served is not None and len(attempts) == 3
    assert s.sleep.calls[0] == 1.5 and 0 <= s.sleep.calls[1] <= 0.1
    assert [a.kind.value for a in attempts] == ["primary", "retry", "retry"]


async def test_retry_after_beyond_the_limit_is_not_waited_for():
    registry = registry_from(model_toml("solo"))
    s = sim({"solo": failing(lambda: unavailable(retry_after=120))}, registry)
    _, attempts, error = await s.request("solo")
    assert len(attempts) == 1 and error.retry_after_s == 120 and s.sleep.calls == []


async def test_deadline_caps_timeouts_and_ends_the_request():
    registry = registry_from(model_toml("solo", fallbacks=("next",)), model_toml("next"))
    s = sim({"solo": lambda _a: (0.7, unavailable()), "next": ok()}, registry)
    served, attempts, _ = await s.request("solo", deadline_s=1.0)
    assert attempts[0].timeout_s == 1.0
    assert attempts[1].timeout_s == pytest.approx(0.3)
    assert served.model.id == "next"
    s2 = sim({"solo": lambda _a: (1.0, None)}, registry)
    plan = s2.planner.attempts(s2.decide("solo"), deadline_s=0.1)
    with pytest.raises(GatewayError) as info:
        async for attempt in plan:
            s2.clock.advance(0.1)
            attempt.fail(GatewayError(grpc.StatusCode.DEADLINE_EXCEEDED, "timeout", "t"))
    assert info.value.code == "timeout"
    # our own deadline cut the attempt short: not the deployment's fault
    assert s2.state.breaker("solo").counts() == (0, 0)


async def test_no_attempt_possible_when_the_deadline_is_gone():
    registry = registry_from(model_toml("solo"))
    s = sim({"solo": ok()}, registry)
    _, attempts, error = await s.request("solo", deadline_s=0.01)
    assert attempts == [] and error.code == "deadline_exceeded"
    assert error.status == grpc.StatusCode.DEADLINE_EXCEEDED


async def test_every_circuit_open_is_503_with_retry_after():
    registry = registry_from(model_toml("solo"))
    s = sim({"solo": failing()}, registry, breaker=BreakerConfig(failure_threshold=1, open_s=7))
    await s.request("solo")
    _, attempts, error = await s.request("solo")
    assert attempts == []
    assert error.code == "no_healthy_deployment" and error.http_status == 503
    assert error.retryable and error.retry_after_s == pytest.approx(7, abs=0.1)


async def test_budget_refusal_skips_the_sibling_retry_but_not_the_failover():
    s = sim({"a1": failing(), "a2": failing(), "b": ok(), "c": ok()},
            budget_max_balance=0.0, budget_min_per_s=0.0, budget_ratio=0.0)  # fmt: skip
    served, attempts, _ = await s.request("a")
    assert served.model.id == "b"
    assert [a.kind.value for a in attempts] == ["primary", "failover"]
    assert s.state.budget.refused >= 1


async def test_close_releases_an_unresolved_attempt():
    registry = registry_from(model_toml("solo"))
    s = sim({}, registry, breaker=BreakerConfig(failure_threshold=1, open_s=1))
    s.state.breaker("solo").record_failure()
    s.clock.advance(1)
    async with s.planner.attempts(s.decide("solo")) as plan:
        attempt = await plan.__anext__()
        assert not s.state.breaker("solo").available()  # the probe slot is taken
    assert attempt.outcome == "abandoned"
    assert s.state.breaker("solo").available()
    assert s.state.balancer(registry.model("solo")).stats["solo"].outstanding == 0


async def test_misuse_is_refused():
    s = sim({})
    plan = s.planner.attempts(s.decide("b"))
    attempt = await plan.__anext__()
    with pytest.raises(RuntimeError):
        await plan.__anext__()
    attempt.succeed()
    with pytest.raises(RuntimeError):
        attempt.fail(unavailable())
    with pytest.raises(StopAsyncIteration):
        await plan.__anext__()


async def test_counts_for_the_usage_event():
    s = sim({"a1": failing(), "a2": failing(), "b": failing(), "c": ok()})
    decision = s.decide("a", prof=profile(10))
    async with s.planner.attempts(decision) as plan:
        async for attempt in plan:
            if attempt.model.id == "c":
                attempt.succeed()
            else:
                attempt.fail(unavailable())
    assert (plan.retries, plan.failovers, len(plan.attempts)) == (1, 2, 4)
    assert plan.served.model.id == "c"


async def test_a_rate_limit_with_retry_after_rests_the_deployment():
    def limited():
        return GatewayError(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "upstream_rate_limited",
            "slow down",
            http_status=429,
            retryable=True,
            retry_after_s=20,
        )

    registry = registry_from(model_toml("a", fallbacks=("b",)), model_toml("b", "groq"))
    s = sim({"a": failing(limited), "b": ok()}, registry)
    served, attempts, _ = await s.request("a")
    assert served.model.id == "b" and len(attempts) == 2
    assert s.state.breaker("a").state is CircuitState.OPEN
    assert s.state.breaker("a").retry_after_s() == pytest.approx(20, abs=0.1)
    served, attempts, _ = await s.request("a")  # no second failed call to the limited key
    assert served.model.id == "b" and len(attempts) == 1


async def test_a_bad_provider_key_fails_over_and_is_not_repeated():
    def bad_key():
        return GatewayError(
            grpc.StatusCode.FAILED_PRECONDITION, "provider_auth_failed", "key", http_status=502
        )

    registry = registry_from(model_toml("solo"))
    s = sim({"solo": failing(bad_key)}, registry)
    _, attempts, error = await s.request("solo")
    assert len(attempts) == 1 and error.code == "provider_auth_failed"
    assert s.sleep.calls == []


def rate_limited(retry_after_s: float | None):
    return lambda: GatewayError(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "upstream_rate_limited",
        "slow down",
        http_status=429,
        retryable=True,
        retry_after_s=retry_after_s,
    )


async def test_every_deployment_cooling_on_a_provider_429_is_429_with_the_cooldown_left():
    registry = registry_from(model_toml("solo", deployments=TWO_DEPLOYMENTS))
    s = sim({"a1": failing(rate_limited(20)), "a2": failing(rate_limited(30))}, registry)
    _, _, first = await s.request("solo")
    assert first.code == "upstream_rate_limited"  # the provider's own 429, passed on
    # Each deployment cools down for exactly its own Retry-After.
    assert s.state.breaker("a1").retry_after_s() == pytest.approx(20, abs=0.1)
    assert s.state.breaker("a2").retry_after_s() == pytest.approx(30, abs=0.1)
    s.clock.advance(5)
    _, attempts, error = await s.request("solo")
    assert attempts == []  # nothing sent while the provider refuses
    assert (error.code, error.http_status) == ("upstream_rate_limited", 429)
    assert error.status is grpc.StatusCode.RESOURCE_EXHAUSTED and error.retryable
    assert error.retry_after_s == pytest.approx(15, abs=0.1)  # the soonest cooldown left
    s.clock.advance(16)
    assert s.state.breaker("a1").available()  # the cooldown ends when it said


async def test_failures_beside_rate_limits_stay_503():
    registry = registry_from(model_toml("solo", deployments=TWO_DEPLOYMENTS))
    s = sim(
        {"a1": failing(rate_limited(20)), "a2": failing()},
        registry,
        breaker=BreakerConfig(failure_threshold=1, open_s=7),
    )
    await s.request("solo")
    _, attempts, error = await s.request("solo")
    assert attempts == []
    assert (error.code, error.http_status) == ("no_healthy_deployment", 503)


def timed_out(phase: str):
    return lambda: GatewayError(
        grpc.StatusCode.DEADLINE_EXCEEDED,
        "upstream_timeout",
        f"too slow ({phase})",
        http_status=504,
        retryable=True,
        metadata={"provider": "openai", "phase": phase},
    )


async def test_a_stream_waits_for_its_first_byte_as_long_as_the_deployment_says():
    registry = registry_from(model_toml("solo"))
    s = sim({"solo": ok()}, registry)
    plan = s.planner.attempts(s.decide("solo"), stream=True)
    attempt = await plan.__anext__()
    assert (attempt.first_byte_timeout_s, attempt.timeout_s) == (60.0, 600.0)
    assert attempt.grpc_timeout_s > attempt.timeout_s  # the provider reports the limit itself
    attempt.succeed()


async def test_a_generation_past_its_total_limit_is_not_retried_nor_held_against_the_deployment():
    registry = registry_from(model_toml("a", fallbacks=("b",), deployments=TWO_DEPLOYMENTS),
                             model_toml("b", "anthropic"))  # fmt: skip
    s = sim({"a1": failing(timed_out("total")), "a2": ok(), "b": ok()}, registry)
    served, attempts, error = await s.request("a")
    assert served is None and len(attempts) == 1  # once: the upstream did the work
    assert (error.code, error.metadata["phase"]) == ("upstream_timeout", "total")
    assert s.state.breaker(attempts[0].deployment.id).counts() == (0, 0)


async def test_a_slow_first_byte_is_retried_and_counted():
    registry = registry_from(model_toml("solo", deployments=TWO_DEPLOYMENTS))
    s = sim({"a1": failing(timed_out("first_byte")), "a2": failing(timed_out("first_byte"))},
            registry)  # fmt: skip
    _, attempts, error = await s.request("solo")
    assert len(attempts) > 1 and error.metadata["phase"] == "first_byte"
    assert {a.deployment.id for a in attempts} == {"a1", "a2"}
    assert all(s.state.breaker(d).counts()[1] >= 1 for d in ("a1", "a2"))


async def test_the_registry_carries_both_limits_per_deployment():
    registry = registry_from(
        model_toml(
            "solo",
            deployments='[[models.deployments]]\nid = "d1"\ntimeout_s = 5\ntotal_timeout_s = 50\n',
        )
    )
    deployment = registry.model("solo").deployments[0]
    assert (deployment.timeout_s, deployment.total_timeout_s) == (5.0, 50.0)
    s = sim({"d1": ok()}, registry)
    plan = s.planner.attempts(s.decide("solo"), deadline_s=20.0, stream=True)
    attempt = await plan.__anext__()
    assert (attempt.first_byte_timeout_s, attempt.timeout_s) == (5.0, 20.0)
    assert attempt.deadline_bound is False  # the caller's 20 s leave the first byte its 5 s
    attempt.succeed()
