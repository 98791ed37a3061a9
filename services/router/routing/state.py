"""The live routing state of one router: a breaker and load numbers per deployment,
a balancer per model, provider readiness, and the retry budget.

It follows registry swaps (`sync`): deployments that survive an edit keep their
breaker and statistics; new ones start fresh; removed ones are dropped.
Passthrough models (unlisted, client-named) get state on first use, in a
bounded LRU so that arbitrary names cannot grow memory without limit.
It also is the `HealthView` that selection reads, and it renders snapshots of
everything for the API and for metrics.
"""

from __future__ import annotations

import random
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from services.router.routing.balancer import DeploymentStats, ModelBalancer, Strategy
from services.router.routing.circuit import (
    BreakerConfig,
    CircuitBreaker,
    CircuitState,
    StateListener,
)
from services.router.routing.registry import Deployment, Model, Registry
from services.router.routing.retry import RetryBudget, RetryPolicy

__all__ = ["DeploymentSnapshot", "RoutingConfig", "RoutingState"]

_MAX_SYNTHETIC = 256


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    breaker: BreakerConfig = field(default_factory=BreakerConfig)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    budget_ratio: float = 0.2
    budget_min_per_s: float = 1.0
    budget_max_balance: float = 10.0
    # Overrides the models' own `balancer` setting for every model when set.
    strategy: Strategy | None = None


@dataclass(frozen=True, slots=True)
class DeploymentSnapshot:
    deployment_id: str
    model: str
    provider: str
    region: str
    weight: int
    circuit: CircuitState
    retry_after_s: float
    outstanding: int
    latency_ewma_ms: float | None
    latency_samples: int
    window_successes: int
    window_failures: int


class RoutingState:
    def __init__(
        self,
        registry: Registry,
        config: RoutingConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        on_circuit_change: StateListener | None = None,
    ) -> None:
        self.config = config or RoutingConfig()
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311 (load spreading, not security)
        self._on_change = on_circuit_change
        self.budget = RetryBudget(
            ratio=self.config.budget_ratio,
            min_per_s=self.config.budget_min_per_s,
            max_balance=self.config.budget_max_balance,
            clock=clock,
        )
        self._breakers: dict[str, CircuitBreaker] = {}
        self._stats: dict[str, DeploymentStats] = {}
        self._balancers: dict[str, ModelBalancer] = {}
        self._synthetic: OrderedDict[str, Model] = OrderedDict()
        self._unready: set[str] = set()
        self.registry = registry
        self.sync(registry)

    # ---- registry following

    def sync(self, registry: Registry) -> None:
        """Adopt a new registry snapshot, keeping state of surviving deployments."""
        self.registry = registry
        keep = set(registry.deployments)
        for table in (self._breakers, self._stats):
            for dep_id in [d for d in table if d not in keep]:
                del table[dep_id]
        self._balancers = {m.id: self._new_balancer(m) for m in registry.listed}
        self._synthetic.clear()

    def _new_balancer(self, model: Model) -> ModelBalancer:
        strategy = self.config.strategy or Strategy(model.balancer)
        return ModelBalancer(
            model.deployments, strategy, rng=self.rng, clock=self.clock, stats=self._stats
        )

    def balancer(self, model: Model) -> ModelBalancer:
        found = self._balancers.get(model.id)
        if found is not None:
            return found
        balancer = self._new_balancer(model)
        if model.synthetic:
            self._remember_synthetic(model)
            self._balancers[model.id] = balancer
        return balancer

    def _remember_synthetic(self, model: Model) -> None:
        self._synthetic[model.id] = model
        while len(self._synthetic) > _MAX_SYNTHETIC:
            old_id, old = self._synthetic.popitem(last=False)
            self._balancers.pop(old_id, None)
            for dep in old.deployments:
                self._breakers.pop(dep.id, None)
                self._stats.pop(dep.id, None)

    def breaker(self, deployment: Deployment | str) -> CircuitBreaker:
        dep_id = deployment if isinstance(deployment, str) else deployment.id
        found = self._breakers.get(dep_id)
        if found is None:
            found = CircuitBreaker(
                dep_id, self.config.breaker, clock=self.clock, on_change=self._on_change
            )
            self._breakers[dep_id] = found
        return found

    # ---- provider readiness (from the provider service's ListProviders)

    def set_provider_ready(self, provider: str, ready: bool) -> None:
        (self._unready.discard if ready else self._unready.add)(provider)

    # ---- HealthView

    def provider_ready(self, provider: str) -> bool:
        return provider not in self._unready

    def model_available(self, model: Model) -> bool:
        return any(self.breaker(d).available() for d in model.deployments if d.weight > 0)

    def model_latency_ms(self, model: Model) -> float | None:
        return self.balancer(model).latency_ms()

    def all_rate_limited(self, models: Iterable[Model]) -> bool:
        """Is every serving deployment of `models` cooling down after an upstream 429?"""
        breakers = [self.breaker(d) for m in models for d in m.deployments if d.weight > 0]
        return bool(breakers) and all(b.rate_limited() for b in breakers)

    def retry_after_s(self, models: Iterable[Model]) -> float:
        """Seconds until the soonest open circuit among `models` admits probes."""
        waits = [self.breaker(d).retry_after_s() for m in models for d in m.deployments]
        return min(waits, default=0.0)

    # ---- observability

    def snapshot(self) -> tuple[DeploymentSnapshot, ...]:
        """Every listed deployment (and active passthrough ones), for API and metrics."""
        models = [*self.registry.listed, *self._synthetic.values()]
        return tuple(self._snapshot(m, d) for m in models for d in m.deployments)

    def _snapshot(self, model: Model, dep: Deployment) -> DeploymentSnapshot:
        breaker = self.breaker(dep)
        stats = self._stats.get(dep.id) or DeploymentStats()
        ok, failed = breaker.counts()
        return DeploymentSnapshot(
            deployment_id=dep.id,
            model=model.id,
            provider=dep.provider,
            region=dep.region,
            weight=dep.weight,
            circuit=breaker.state,
            retry_after_s=breaker.retry_after_s(),
            outstanding=stats.outstanding,
            latency_ewma_ms=stats.ewma_ms,
            latency_samples=stats.samples,
            window_successes=ok,
            window_failures=failed,
        )
