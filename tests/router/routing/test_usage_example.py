"""The integration the router pipeline does, through the package's public API only:
profile → requirements → select → plan attempts → record outcomes → headers."""

from __future__ import annotations

import random

import grpc
import pytest

from services.kernel.errors import GatewayError
from services.router.routing import (
    EXCLUDED_HEADER,
    REQUIREMENTS_HEADER,
    ROUTE_HEADER,
    Attempt,
    Planner,
    RegistryHolder,
    RoutingState,
    load_default,
    parse_registry,
    parse_requirements,
    profile_request,
    route_headers,
    select,
)
from tests.router.routing.helpers import FakeClock, RecordingSleep


class FakeProvider:
    """Stands in for ProviderService.Generate: fails for some providers."""

    def __init__(self, down: set[str]) -> None:
        self.down = down
        self.calls: list[tuple[str, str, float]] = []

    async def generate(self, attempt: Attempt) -> dict[str, str]:
        self.calls.append((attempt.provider, attempt.upstream_model, attempt.timeout_s))
        if attempt.provider in self.down:
            raise GatewayError(
                grpc.StatusCode.UNAVAILABLE, "upstream_unavailable", "down", retryable=True
            )
        return {"model": attempt.response_model}


async def route_and_call(
    holder: RegistryHolder,
    planner: Planner,
    provider: FakeProvider,
    body: dict,
    metadata: dict[str, str],
    allowed_models: frozenset[str] = frozenset(),
) -> tuple[dict[str, str], dict[str, str]]:
    # --- what the router pipeline does per request ---
    profile = profile_request(body, operation="chat")
    requirements = parse_requirements(body, metadata.get(REQUIREMENTS_HEADER))
    decision = select(
        holder.current,
        body["model"],
        requirements,
        profile,
        scopes=allowed_models,
        health=planner.state,
    )
    async with planner.attempts(decision, deadline_s=30.0) as plan:
        async for attempt in plan:
            try:
                reply = await provider.generate(attempt)
            except GatewayError as err:
                attempt.fail(err)
            else:
                attempt.succeed()
    served = plan.served
    assert served is not None
    headers = route_headers(
        decision,
        model=served.model.id,
        deployment=served.deployment_id,
        retries=plan.retries,
        failovers=plan.failovers,
    )
    return reply, headers


@pytest.fixture
def mesh():
    clock = FakeClock()
    holder = RegistryHolder(load_default())
    state = RoutingState(holder.current, clock=clock, rng=random.Random(1))
    holder.subscribe(state.sync)
    return holder, Planner(state, sleep=RecordingSleep(clock)), FakeProvider(down={"openai"})


async def test_auto_with_requirements_in_the_header(mesh):
    holder, planner, provider = mesh
    body = {"model": "auto", "messages": [{"role": "user", "content": "hi"}]}
    header = '{"capabilities": ["vision"], "prefer": "latency", "exclude_providers": ["openai"]}'
    reply, headers = await route_and_call(
        holder, planner, provider, body, {REQUIREMENTS_HEADER: header}
    )
    assert reply == {"model": "claude-haiku-4-5"}
    assert "reason=auto-latency" in headers[ROUTE_HEADER]
    assert "gpt-4o=exclude_providers" in headers[EXCLUDED_HEADER]


async def test_explicit_model_fails_over_across_providers(mesh):
    holder, planner, provider = mesh
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    reply, headers = await route_and_call(holder, planner, provider, body, {})
    assert reply == {"model": "claude-sonnet-4-5"}
    assert provider.calls[0][:2] == ("openai", "gpt-4o")
    assert provider.calls[0][2] == 30.0  # the caller's deadline beats the model's 120 s
    assert "failovers=1" in headers[ROUTE_HEADER]


async def test_an_admin_edit_reaches_the_next_request(mesh):
    holder, planner, provider = mesh
    edited = parse_registry(
        """
        schema_version = 1
        version = 1
        [providers.mock]
        [[models]]
        id = "only"
        provider = "mock"
        upstream_id = "echo"
        context_window = 1000
        max_output_tokens = 100
        """,
        version=holder.version + 1,
    )
    assert holder.swap(edited)
    body = {"model": "auto", "messages": [{"role": "user", "content": "hi"}]}
    reply, headers = await route_and_call(holder, planner, provider, body, {})
    assert reply == {"model": "only"}
    assert f"registry={edited.version}" in headers[ROUTE_HEADER]
    assert planner.state.snapshot()[0].deployment_id == "only"
