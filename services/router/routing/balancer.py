"""Spreading one model's traffic over its deployments.

Strategies (per model):
- WEIGHTED: smooth weighted round robin (nginx's): deterministic, and exact —
  over any window of sum(weights) picks each deployment gets exactly its weight.
- LEAST_OUTSTANDING: the deployment with the fewest in-flight requests per unit
  of weight; ties go round robin.
- LATENCY: power of two choices — two random deployments, keep the one with
  the lower `latency EWMA x (outstanding + 1) / weight`. The estimate of a
  deployment not measured recently decays, so a recovered deployment is tried
  again (one probe per few minutes) instead of being shunned forever.

`acquire()` returns a `Lease` that counts the request as outstanding until it is
released with its latency. The RNG and the clock are injected.
"""

from __future__ import annotations

import enum
import math
import random
from collections.abc import Callable, Sequence

from services.router.routing.registry import Deployment

__all__ = ["DeploymentStats", "Lease", "ModelBalancer", "Strategy"]


class Strategy(enum.StrEnum):
    WEIGHTED = "weighted"
    LEAST_OUTSTANDING = "least_outstanding"
    LATENCY = "latency"


class DeploymentStats:
    """Live numbers for one deployment: in-flight requests and a latency EWMA."""

    __slots__ = ("_last", "_tau_s", "ewma_ms", "outstanding", "samples")

    def __init__(self, tau_s: float = 10.0) -> None:
        self.outstanding = 0
        self.ewma_ms: float | None = None
        self.samples = 0
        self._last = 0.0
        self._tau_s = tau_s

    def observe(self, latency_ms: float, now: float) -> None:
        """Time-weighted EWMA: a sample's weight grows with the time since the last."""
        if self.ewma_ms is None:
            self.ewma_ms = latency_ms
        else:
            keep = math.exp(-max(0.0, now - self._last) / self._tau_s)
            keep = min(keep, 0.9)  # every sample moves the estimate at least 10%
            self.ewma_ms = self.ewma_ms * keep + latency_ms * (1.0 - keep)
        self.samples += 1
        self._last = now

    def estimate(self, now: float, prior: float) -> float:
        """The EWMA, decaying toward zero while no new samples arrive (as Finagle's
        peak EWMA does), so an idle deployment is eventually probed again; `prior`
        stands in for a deployment never measured."""
        if self.ewma_ms is None:
            return prior
        return self.ewma_ms * math.exp(-max(0.0, now - self._last) / (6 * self._tau_s))


class Lease:
    """One in-flight request on a deployment; release exactly once."""

    __slots__ = ("_balancer", "_released", "deployment")

    def __init__(self, balancer: ModelBalancer, deployment: Deployment) -> None:
        self._balancer = balancer
        self.deployment = deployment
        self._released = False

    def release(self, latency_ms: float | None = None) -> None:
        """End the request; a latency (success or timeout) feeds the EWMA."""
        if self._released:
            return
        self._released = True
        self._balancer.finish(self.deployment, latency_ms)


class ModelBalancer:
    def __init__(
        self,
        deployments: Sequence[Deployment],
        strategy: Strategy = Strategy.WEIGHTED,
        *,
        rng: random.Random,
        clock: Callable[[], float],
        stats: dict[str, DeploymentStats] | None = None,
    ) -> None:
        self.deployments = tuple(d for d in deployments if d.weight > 0)
        self.strategy = strategy
        self._rng = rng
        self._clock = clock
        shared = stats if stats is not None else {}
        self.stats = {d.id: shared.setdefault(d.id, DeploymentStats()) for d in self.deployments}
        self._current = dict.fromkeys(self.stats, 0)

    def pick(self, eligible: Callable[[Deployment], bool] | None = None) -> Deployment | None:
        """The next deployment among those `eligible` accepts (None if none)."""
        pool = [d for d in self.deployments if eligible is None or eligible(d)]
        if len(pool) <= 1:
            return pool[0] if pool else None
        if self.strategy is Strategy.LEAST_OUTSTANDING:
            return self._least_outstanding(pool)
        if self.strategy is Strategy.LATENCY:
            return self._two_choices(pool)
        return self._round_robin(pool)

    def acquire(self, deployment: Deployment) -> Lease:
        self.stats[deployment.id].outstanding += 1
        return Lease(self, deployment)

    def finish(self, deployment: Deployment, latency_ms: float | None) -> None:
        stats = self.stats[deployment.id]
        stats.outstanding = max(0, stats.outstanding - 1)
        if latency_ms is not None:
            stats.observe(latency_ms, self._clock())

    def observe(self, deployment_id: str, latency_ms: float) -> None:
        """A latency measured outside a lease (an active health check)."""
        stats = self.stats.get(deployment_id)
        if stats is not None:
            stats.observe(latency_ms, self._clock())

    def latency_ms(self) -> float | None:
        """The model's measured latency: its best deployment's EWMA, if measured."""
        known = [s.ewma_ms for s in self.stats.values() if s.ewma_ms is not None]
        return min(known) if known else None

    def _round_robin(self, pool: Sequence[Deployment]) -> Deployment:
        total = 0
        best = pool[0]
        current = self._current
        for dep in pool:
            current[dep.id] += dep.weight
            total += dep.weight
            if current[dep.id] > current[best.id]:
                best = dep
        current[best.id] -= total
        return best

    def _least_outstanding(self, pool: Sequence[Deployment]) -> Deployment:
        def load(dep: Deployment) -> float:
            return self.stats[dep.id].outstanding / dep.weight

        lowest = min(load(d) for d in pool)
        return self._round_robin([d for d in pool if load(d) == lowest])

    def _two_choices(self, pool: Sequence[Deployment]) -> Deployment:
        first, second = self._rng.sample(pool, 2)
        now = self._clock()
        measured = [s.ewma_ms for s in self.stats.values() if s.ewma_ms is not None]
        prior = min(measured) if measured else 0.0
        return min((first, second), key=lambda d: self._score(d, now, prior))

    def _score(self, dep: Deployment, now: float, prior: float) -> float:
        stats = self.stats[dep.id]
        # At least 1 ms, so that in-flight counts still matter before any measurement.
        latency = max(stats.estimate(now, prior), 1.0)
        return latency * (stats.outstanding + 1) / dep.weight
