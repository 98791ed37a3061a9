from __future__ import annotations

import random

import grpc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.kernel.errors import GatewayError
from services.router.routing.headers import (
    EXCLUDED_HEADER,
    MAX_HEADER_CHARS,
    ROUTE_HEADER,
    route_headers,
)
from services.router.routing.loader import load_default
from services.router.routing.registry import ResolutionKind
from services.router.routing.requirements import NO_REQUIREMENTS, Prefer, Requirements
from services.router.routing.selection import Decision, Exclusion, select
from services.router.routing.state import RoutingState
from services.router.routing.tokens import RequestProfile, profile_request
from tests.router.routing.helpers import FakeClock, caps, model_toml, profile, registry_from


@pytest.fixture(scope="module")
def shipped():
    return load_default(demo=True)  # the demo models have the odd shapes tests need


def ids(decision: Decision) -> list[str]:
    return [m.id for m in decision.candidates]


def excluded(decision: Decision) -> dict[str, str]:
    return {e.model: e.requirement for e in decision.excluded}


def test_explicit_model_then_its_fallbacks(shipped):
    decision = select(shipped, "gpt-4o", NO_REQUIREMENTS, profile())
    assert ids(decision)[:3] == ["gpt-4o", "claude-sonnet-4-5", "gpt-4.1"]
    assert decision.reason_code == "explicit" and decision.kind is ResolutionKind.MODEL
    assert len({m.provider for m in decision.candidates}) >= 2


def test_alias_keeps_its_configured_order(shipped):
    decision = select(shipped, "smart", NO_REQUIREMENTS, profile())
    assert ids(decision)[:4] == list(shipped.aliases["smart"].chain)
    assert decision.reason_code == "alias"
    assert "first in chain" in decision.reason


def test_auto_picks_the_cheapest_with_an_explanation(shipped):
    decision = select(shipped, "auto", NO_REQUIREMENTS, profile(1000))
    assert decision.primary.id == "llama-3.1-8b-instant"
    assert decision.reason_code == "auto-cost"
    assert "cheapest of 11 eligible" in decision.reason and "$" in decision.reason
    costs = [m.pricing.estimate_usd(1000, 256) for m in decision.candidates]
    assert costs == sorted(costs)


def test_auto_with_requirements_picks_the_cheapest_satisfying(shipped):
    req = Requirements(capabilities=caps("vision", "json_schema"), max_input_price=1.5)
    decision = select(shipped, "auto", req, profile(2000))
    assert decision.primary.id == "gpt-4.1-nano"
    assert all(
        caps("vision", "json_schema") <= (m.capabilities or set()) for m in decision.candidates
    )
    why = excluded(decision)
    assert why["llama-3.1-8b-instant"] == "capability:json_schema"
    assert why["gpt-4o"] == "max_input_price"
    assert why["claude-opus-4-5"] == "max_input_price"


def test_auto_prefer_latency_uses_declared_then_measured_latency(shipped):
    req = Requirements(prefer=Prefer.LATENCY, capabilities=caps("vision"))
    decision = select(shipped, "auto", req, profile())
    assert decision.primary.id == "gpt-4.1-nano"  # 400 ms declared, fastest with vision
    assert decision.reason_code == "auto-latency" and "fastest" in decision.reason
    state = RoutingState(shipped, clock=FakeClock())
    nano = shipped.model("gpt-4.1-nano")
    state.balancer(nano).observe(nano.deployments[0].id, 3000.0)  # measured: slow today
    decision = select(shipped, "auto", req, profile(), health=state)
    assert ids(decision)[:2] == ["gpt-4o-mini", "gpt-4.1-mini"]  # 500 ms each: cheaper first
    assert ids(decision)[-1] == "gpt-4.1-nano"


def test_max_latency_requirement(shipped):
    req = Requirements(max_latency_ms=250)
    decision = select(shipped, "auto", req, profile())
    assert ids(decision) == ["llama-3.1-8b-instant"]
    assert excluded(decision)["claude-opus-4-5"] == "max_latency_ms"


def test_long_prompt_goes_to_a_large_context_model(shipped):
    body = {"messages": [{"role": "user", "content": "lorem ipsum dolor " * 12_000}]}
    prof = profile_request(body)
    assert prof.prompt_tokens > 8192
    decision = select(shipped, "mock/echo", NO_REQUIREMENTS, prof)
    assert decision.primary.id == "mock/large"
    assert decision.reason_code == "fallback"
    assert excluded(decision)["mock/echo"] == "context_window"
    huge = profile(300_000)
    auto = select(shipped, "auto", NO_REQUIREMENTS, huge)
    assert {m.id for m in auto.candidates} == {"gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano"}
    assert auto.primary.id == "gpt-4.1-nano"
    assert excluded(auto)["claude-sonnet-4-5"] == "context_window"


def test_requested_output_counts_against_the_window_and_the_output_limit(shipped):
    decision = select(shipped, "auto", NO_REQUIREMENTS, profile(120_000, max_output=20_000))
    why = excluded(decision)
    assert why["gpt-4o-mini"] == "context_window"  # 140k > 128k
    assert why["llama-3.1-8b-instant"] == "context_window"
    assert "claude-haiku-4-5" in ids(decision)


def test_max_output_tokens_above_the_model_limit(shipped):
    decision = select(shipped, "auto", NO_REQUIREMENTS, profile(100, max_output=20_000))
    assert excluded(decision)["gpt-4o-mini"] == "max_output_tokens"


def test_providers_allow_and_deny(shipped):
    only = select(shipped, "auto", Requirements(providers=frozenset({"anthropic"})), profile())
    assert {m.provider for m in only.candidates} == {"anthropic"}
    assert only.primary.id == "claude-haiku-4-5"
    deny = select(shipped, "fast", Requirements(exclude_providers=frozenset({"groq"})), profile())
    assert deny.primary.id == "gpt-4.1-nano"
    assert excluded(deny)["llama-3.1-8b-instant"] == "exclude_providers"


def test_unknown_provider_in_requirements_is_invalid(shipped):
    with pytest.raises(GatewayError) as info:
        select(shipped, "auto", Requirements(providers=frozenset({"opneai"})), profile())
    assert info.value.code == "invalid_requirements" and "opneai" in info.value.message


def test_unsatisfiable_is_400_naming_the_failed_requirement(shipped):
    req = Requirements(max_input_price=0.01)
    with pytest.raises(GatewayError) as info:
        select(shipped, "auto", req, profile())
    error = info.value
    assert error.status == grpc.StatusCode.INVALID_ARGUMENT and error.http_status == 400
    assert error.code == "no_model_satisfies"
    assert error.param == "agentopia.requirements.max_input_price"
    assert "max_input_price (11 model(s)" in error.message


def test_unsatisfiable_with_several_failures_lists_them(shipped):
    req = Requirements(capabilities=caps("logprobs"), max_output_price=0.3)
    with pytest.raises(GatewayError) as info:
        select(shipped, "auto", req, profile())
    failed = info.value.metadata["failed_requirements"].split(",")
    assert set(failed) == {"capability:logprobs", "max_output_price"}
    assert info.value.param == "model"


def test_too_long_for_every_model(shipped):
    with pytest.raises(GatewayError) as info:
        select(shipped, "gpt-4o-mini", NO_REQUIREMENTS, profile(2_000_000))
    assert info.value.code == "no_model_satisfies"
    assert info.value.param == "messages" and "context_window" in info.value.message


def test_key_scope_filters_and_refuses(shipped):
    scoped = select(shipped, "auto", NO_REQUIREMENTS, profile(), scopes=frozenset({"smart"}))
    assert {m.id for m in scoped.candidates} <= set(shipped.aliases["smart"].chain)
    assert excluded(scoped)["llama-3.1-8b-instant"] == "key_scope"
    with pytest.raises(GatewayError) as info:
        select(shipped, "gpt-4o", NO_REQUIREMENTS, profile(), scopes=frozenset({"mock/echo"}))
    assert info.value.code == "model_not_allowed"
    assert info.value.status == grpc.StatusCode.PERMISSION_DENIED


def test_open_circuits_are_demoted_with_a_reason(shipped):
    clock = FakeClock()
    state = RoutingState(shipped, clock=clock)
    for dep in shipped.model("gpt-4o").deployments:
        for _ in range(5):
            state.breaker(dep).record_failure()
    decision = select(shipped, "gpt-4o", NO_REQUIREMENTS, profile(), health=state)
    assert decision.primary.id == "claude-sonnet-4-5"
    assert excluded(decision)["gpt-4o"] == "circuit_open"
    assert decision.reason_code == "fallback"


def test_when_every_circuit_is_open_the_candidates_stay():
    registry = registry_from(model_toml("m1"))
    state = RoutingState(registry, clock=FakeClock())
    for _ in range(5):
        state.breaker("m1").record_failure()
    decision = select(registry, "m1", NO_REQUIREMENTS, profile(), health=state)
    assert ids(decision) == ["m1"]


def test_unconfigured_providers_are_excluded(shipped):
    state = RoutingState(shipped, clock=FakeClock())
    state.set_provider_ready("groq", False)
    decision = select(shipped, "fast", NO_REQUIREMENTS, profile(), health=state)
    assert decision.primary.provider != "groq"
    assert excluded(decision)["llama-3.1-8b-instant"] == "provider_unavailable"


def test_passthrough_is_never_excluded_for_unknown_facts(shipped):
    decision = select(shipped, "openai/gpt-9", NO_REQUIREMENTS, profile(5_000_000, max_output=10))
    assert decision.kind is ResolutionKind.PASSTHROUGH and decision.reason_code == "passthrough"
    with pytest.raises(GatewayError):  # but a stated price cap cannot be proven
        select(shipped, "openai/gpt-9", Requirements(max_input_price=5), profile())


def test_route_headers(shipped):
    req = Requirements(capabilities=caps("vision"))
    decision = select(shipped, "auto", req, profile())
    headers = route_headers(decision, deployment="gpt-4.1-nano", retries=1, failovers=0)
    route = headers[ROUTE_HEADER]
    assert route.startswith("model=gpt-4.1-nano; deployment=gpt-4.1-nano; reason=auto-cost")
    assert "retries=1; failovers=0; registry=1" in route and 'why="auto: cheapest' in route
    assert "llama-3.1-8b-instant=capability:vision" in headers[EXCLUDED_HEADER]


def _decision(exclusions: list[Exclusion], reason: str) -> Decision:
    registry = registry_from(model_toml("m1"))
    return Decision(
        requested="auto",
        kind=ResolutionKind.AUTO,
        candidates=(registry.model("m1"),),
        reason_code="auto-cost",
        reason=reason,
        excluded=tuple(exclusions),
        requirements=NO_REQUIREMENTS,
        profile=RequestProfile(1, None, frozenset()),
        registry_version=1,
    )


@given(
    st.lists(
        st.builds(
            Exclusion,
            st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,59}", fullmatch=True),
            st.text(max_size=30),
            st.text(),
        ),
        max_size=80,
    ),
    st.text(max_size=2000),
)
def test_headers_are_bounded_printable_ascii(exclusions, reason):
    headers = route_headers(_decision(exclusions, reason), deployment="d\n;x")
    for value in headers.values():
        assert len(value) <= MAX_HEADER_CHARS
        assert all(" " <= c <= "~" for c in value)
    if len(exclusions) > 1 and EXCLUDED_HEADER in headers:
        shown = headers[EXCLUDED_HEADER].split(";")
        if shown[-1].startswith("+"):
            assert len(shown) - 1 + int(shown[-1][1:]) == len(exclusions)


def test_selection_is_deterministic(shipped):
    rng = random.Random(3)
    for _ in range(50):
        tokens = rng.randrange(1, 300_000)
        first = select(shipped, "auto", NO_REQUIREMENTS, profile(tokens))
        again = select(shipped, "auto", NO_REQUIREMENTS, profile(tokens))
        assert ids(first) == ids(again) and first.excluded == again.excluded
