"""Test doubles for the routing library: a fake clock, a recording sleep, registries
from TOML snippets priced by a test price table, and an upstream simulator that
resolves attempts."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc

from metrics.client.pricing import PriceTable
from services.kernel.errors import GatewayError
from services.router.routing.capabilities import CHAT, Capabilities, parse_capabilities
from services.router.routing.loader import parse_registry
from services.router.routing.plan import Attempt, Planner
from services.router.routing.registry import Registry
from services.router.routing.requirements import NO_REQUIREMENTS, Requirements
from services.router.routing.selection import Decision, select
from services.router.routing.state import RoutingConfig, RoutingState
from services.router.routing.tokens import RequestProfile

HEADER = """
schema_version = 1
version = 1
[providers.openai]
[providers.anthropic]
[providers.groq]
[providers.mock]
"""
TEST_PROVIDERS = ("openai", "anthropic", "groq", "mock")
DEFAULT_PRICE = (1.0, 2.0)  # USD per Mtok (input, output) of every test model


def price_table(
    specific: Mapping[tuple[str, str], tuple[float, float]] | None = None,
) -> PriceTable:
    """Every test provider's models at DEFAULT_PRICE (a `*` entry each), except the
    (provider, upstream id) pairs in `specific`."""
    rows = [(provider, "*", DEFAULT_PRICE) for provider in TEST_PROVIDERS]
    rows += [(provider, model, rates) for (provider, model), rates in (specific or {}).items()]
    entries = [
        {
            "provider": provider,
            "model": model,
            "effective": dt.date(2024, 1, 1),
            "input": f"{rates[0]:.6f}",
            "output": f"{rates[1]:.6f}",
            "source": "test",
            "checked": "internal",
        }
        for provider, model, rates in rows
    ]
    return PriceTable.from_mapping({"version": "test", "price": entries})


def caps(*names: str) -> Capabilities:
    """Capabilities by their short names (`caps("tools", "vision")`)."""
    return parse_capabilities(names)


def model_toml(
    model_id: str,
    provider: str = "openai",
    *,
    window: int = 100_000,
    output: int = 8_000,
    caps: tuple[str, ...] = ("chat", "streaming", "tools"),
    fallbacks: tuple[str, ...] = (),
    latency: float | None = 500.0,
    extra: str = "",
    deployments: str = "",
) -> str:
    caps_list = ", ".join(f'"{c}"' for c in caps)
    fb = ", ".join(f'"{f}"' for f in fallbacks)
    lat = f"latency_ms = {latency}\n" if latency is not None else ""
    return (
        f'[[models]]\nid = "{model_id}"\nprovider = "{provider}"\n'
        f"capabilities = [{caps_list}]\ncontext_window = {window}\n"
        f"max_output_tokens = {output}\n{lat}fallbacks = [{fb}]\n{extra}"
        f"{deployments}\n"
    )


def registry_from(
    *models: str, aliases: str = "", version: int = 1, prices: PriceTable | None = None
) -> Registry:
    text = HEADER.replace("\nversion = 1", f"\nversion = {version}") + "".join(models) + aliases
    return parse_registry(text, source="test", prices=prices or price_table())


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class RecordingSleep:
    clock: FakeClock
    calls: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.clock.advance(seconds)


def profile(
    tokens: int = 100, max_output: int | None = None, caps: Capabilities = frozenset({CHAT})
) -> RequestProfile:
    return RequestProfile(prompt_tokens=tokens, max_output_tokens=max_output, capabilities=caps)


def unavailable(
    code: str = "upstream_unavailable", retry_after: float | None = None
) -> GatewayError:
    return GatewayError(
        grpc.StatusCode.UNAVAILABLE,
        code,
        "upstream is unavailable",
        http_status=503,
        retryable=True,
        retry_after_s=retry_after,
    )


def bad_request(code: str = "upstream_bad_request", message: str = "bad") -> GatewayError:
    return GatewayError(grpc.StatusCode.INVALID_ARGUMENT, code, message)


# An upstream behaviour: (attempt) -> (latency seconds, error or None)
Behaviour = Callable[[Attempt], tuple[float, GatewayError | None]]


@dataclass
class Simulator:
    """Runs requests through select + plan against simulated deployments."""

    registry: Registry
    behaviours: Mapping[str, Behaviour]  # deployment id -> behaviour
    config: RoutingConfig = field(default_factory=RoutingConfig)
    seed: int = 7
    clock: FakeClock = field(default_factory=FakeClock)
    state: RoutingState = field(init=False)
    planner: Planner = field(init=False)
    sleep: RecordingSleep = field(init=False)

    def __post_init__(self) -> None:
        self.state = RoutingState(
            self.registry, self.config, clock=self.clock, rng=random.Random(self.seed)
        )
        self.sleep = RecordingSleep(self.clock)
        self.planner = Planner(self.state, sleep=self.sleep)

    def decide(
        self, model: str, requirements: Requirements = NO_REQUIREMENTS, **kw: Any
    ) -> Decision:
        return select(
            self.registry, model, requirements, kw.pop("prof", profile()), health=self.state, **kw
        )

    async def request(
        self, model: str, *, deadline_s: float | None = None, **kw: Any
    ) -> tuple[Attempt | None, list[Attempt], GatewayError | None]:
        """One request; returns (served attempt, all attempts, final error)."""
        decision = self.decide(model, **kw)
        plan = self.planner.attempts(decision, deadline_s=deadline_s)
        try:
            async with plan:
                async for attempt in plan:
                    latency, error = self.behaviours[attempt.deployment.id](attempt)
                    self.clock.advance(latency)
                    if error is None:
                        attempt.succeed()
                    else:
                        attempt.fail(error)
        except GatewayError as err:
            return None, plan.attempts, err
        return plan.served, plan.attempts, None


def ok(latency: float = 0.01) -> Behaviour:
    return lambda _attempt: (latency, None)


def failing(error: Callable[[], GatewayError] = unavailable, latency: float = 0.01) -> Behaviour:
    return lambda _attempt: (latency, error())


def flaky(rate: float, rng: random.Random, latency: float = 0.01) -> Behaviour:
    return lambda _attempt: (latency, unavailable() if rng.random() < rate else None)
