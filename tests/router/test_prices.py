"""One price table for admission and billing: a budget reservation is priced exactly
as the usage event is, from metrics.client.pricing, by what the serving provider
bills for the upstream model id; an unpriced model is never reserved at $0."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import grpc
import pytest
import pytest_asyncio
from agentopia.v1 import chat_pb2, metrics_service_pb2

from keyvault.client.keycache import Principal
from keyvault.client.limits import Limiter, Limits, open_limiter
from metrics.client.pricing import UsageTokens, default_table, price
from services.kernel.errors import GatewayError
from services.router.admission import Admission
from services.router.routing import select
from services.router.routing.loader import parse_registry
from services.router.routing.requirements import NO_REQUIREMENTS
from services.router.routing.tokens import profile_request
from services.router.usage import price_event
from tests.router.routing.helpers import HEADER, model_toml, price_table, profile, registry_from

BUDGET = Limits(budget_micros=100_000_000)
SPLIT = (
    '[[models.deployments]]\nid = "cheap-here"\n'
    '[[models.deployments]]\nid = "dear-there"\nprovider = "groq"\nupstream_id = "dear"\n'
)


def _principal(limits: Limits | None = BUDGET) -> Principal:
    return Principal(
        key_id="k1", name="k1", role=1, team="", owner="", allowed_models=frozenset(), limits=limits
    )


@pytest_asyncio.fixture
async def limiter() -> AsyncIterator[Limiter]:
    opened = open_limiter("")
    yield opened
    await opened.aclose()


async def test_the_reservation_is_the_price_tables_exact_cost(limiter: Limiter) -> None:
    registry = parse_registry(HEADER + model_toml("gpt-4o", output=16_384), prices=default_table())
    decision = select(registry, "gpt-4o", NO_REQUIREMENTS, profile(1000, max_output=500))
    reservation = await Admission(limiter, default_table()).admit(_principal(), decision)
    assert reservation is not None
    billed = price(
        "gpt-4o", UsageTokens(prompt_tokens=1000, completion_tokens=500), provider="openai"
    )
    assert reservation.cost_micros == math.ceil(billed.cost_usd * 1_000_000)  # type: ignore[union-attr]


async def test_a_model_is_reserved_at_its_dearest_deployment(limiter: Limiter) -> None:
    prices = price_table({("openai", "m1"): (1.0, 1.0), ("groq", "dear"): (30.0, 60.0)})
    registry = registry_from(
        model_toml("m1", window=3_000_000, output=1_000_000, deployments=SPLIT), prices=prices
    )
    decision = select(registry, "m1", NO_REQUIREMENTS, profile(1_000_000, max_output=1_000_000))
    reservation = await Admission(limiter, prices).admit(_principal(), decision)
    assert reservation is not None and reservation.cost_micros == 90_000_000


async def test_an_unpriced_model_cannot_be_reserved_against_a_budget(limiter: Limiter) -> None:
    registry = parse_registry(HEADER + model_toml("nobody-prices-me"), prices=default_table())
    decision = select(registry, "nobody-prices-me", NO_REQUIREMENTS, profile())
    with pytest.raises(GatewayError) as caught:
        await Admission(limiter, default_table()).admit(_principal(), decision)
    assert (caught.value.status, caught.value.code) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "model_unpriced",
    )
    assert await Admission(limiter, default_table()).admit(_principal(None), decision) is None


def test_usage_is_billed_by_the_served_upstream_model() -> None:
    event = metrics_service_pb2.UsageEvent(
        model="house-chat", provider="openai", prompt_tokens=1000, completion_tokens=500
    )
    cost_micros = price_event(event, default_table(), upstream_model="gpt-4o-mini")
    expected = price(
        "gpt-4o-mini", chat_pb2.Usage(prompt_tokens=1000, completion_tokens=500), provider="openai"
    )
    assert event.cost_usd == expected.cost_str  # type: ignore[union-attr]
    assert cost_micros == math.ceil(expected.cost_usd * 1_000_000)  # type: ignore[union-attr]


def test_an_unpriced_event_stays_unpriced() -> None:
    event = metrics_service_pb2.UsageEvent(
        model="x", provider="openai", prompt_tokens=10, completion_tokens=10
    )
    assert price_event(event, default_table(), upstream_model="nobody-prices-me") is None
    assert event.cost_usd == ""


async def test_every_choice_is_reserved(limiter: Limiter) -> None:
    """`n` choices are n outputs, each billed: the reservation holds all of them."""
    caps = ("chat", "multiple_choices")
    registry = parse_registry(
        HEADER + model_toml("gpt-4o", output=16_384, caps=caps), prices=default_table()
    )
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 500}
    one = profile_request(body)
    three = profile_request({**body, "n": 3})
    assert (one.choices, three.choices) == (1, 3)
    admission = Admission(limiter, default_table())
    principal = _principal(Limits(tpm=1_000_000, budget_micros=100_000_000))
    single = await admission.admit(principal, select(registry, "gpt-4o", NO_REQUIREMENTS, one))
    triple = await admission.admit(principal, select(registry, "gpt-4o", NO_REQUIREMENTS, three))
    assert single is not None and triple is not None
    assert triple.tokens - single.tokens == 2 * 500
    billed = price(
        "gpt-4o",
        UsageTokens(prompt_tokens=three.prompt_tokens, completion_tokens=3 * 500),
        provider="openai",
    )
    assert triple.cost_micros == math.ceil(billed.cost_usd * 1_000_000)  # type: ignore[union-attr]
    legacy = profile_request(
        {"model": "m", "prompt": "x", "n": 2, "best_of": 5}, operation="completions"
    )
    assert legacy.choices == 5
