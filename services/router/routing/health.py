"""Active health checks and scheduled self-tests of deployments.

The router supplies the probes as async callables (a cheap check, e.g. a
provider-service health RPC, and a real tiny generation for the self-test);
they return the latency in ms or raise (GatewayError, TimeoutError, ...). A
failure feeds the deployment's breaker like a failed request; a success lets an
open circuit probe again at once (HALF_OPEN; real traffic still decides whether
it closes) and gives the latency-aware balancer a fresh sample for deployments
that get no traffic.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from services.kernel.errors import GatewayError
from services.router.routing.registry import Deployment
from services.router.routing.retry import counts_against_health
from services.router.routing.state import RoutingState

__all__ = ["HealthMonitor", "Probe", "ProbeResult"]

_log = logging.getLogger(__name__)

Probe = Callable[[Deployment], Awaitable[float]]  # latency in ms; raises on failure
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ProbeResult:
    deployment_id: str
    kind: str  # "check" | "self_test"
    ok: bool
    latency_ms: float | None
    error_code: str = ""


class HealthMonitor:
    def __init__(
        self,
        state: RoutingState,
        check: Probe,
        *,
        self_test: Probe | None = None,
        interval_s: float = 30.0,
        self_test_interval_s: float = 600.0,
        timeout_s: float = 10.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.state = state
        self._check = check
        self._self_test = self_test
        self.interval_s = interval_s
        self.self_test_interval_s = self_test_interval_s
        self.timeout_s = timeout_s
        self._sleep = sleep
        self.last_results: tuple[ProbeResult, ...] = ()

    async def run(self) -> None:
        """Probe forever (cancel the task to stop): checks every `interval_s`, a
        self-test every `self_test_interval_s`."""
        next_self_test = self.state.clock()
        while True:
            due = self._self_test is not None and self.state.clock() >= next_self_test
            await self.run_once(self_test=due)
            if due:
                next_self_test = self.state.clock() + self.self_test_interval_s
            await self._sleep(self.interval_s)

    async def run_once(self, *, self_test: bool = False) -> tuple[ProbeResult, ...]:
        """Probe every configured deployment once, concurrently."""
        probe = self._self_test if self_test and self._self_test is not None else self._check
        kind = "self_test" if probe is self._self_test else "check"
        deployments: Sequence[Deployment] = tuple(self.state.registry.deployments.values())
        results = await asyncio.gather(*(self._probe(probe, kind, d) for d in deployments))
        self.last_results = tuple(results)
        return self.last_results

    async def _probe(self, probe: Probe, kind: str, dep: Deployment) -> ProbeResult:
        try:
            latency = await asyncio.wait_for(probe(dep), self.timeout_s)
        except GatewayError as err:
            self._failed(dep, err if counts_against_health(err) else None)
            return ProbeResult(dep.id, kind, ok=False, latency_ms=None, error_code=err.code)
        except TimeoutError:
            self._failed(dep, None, timed_out=True)
            return ProbeResult(dep.id, kind, ok=False, latency_ms=None, error_code="timeout")
        except Exception:  # a broken probe must not kill the monitor
            _log.exception("health probe crashed", extra={"deployment": dep.id})
            return ProbeResult(dep.id, kind, ok=False, latency_ms=None, error_code="probe_error")
        self.state.breaker(dep).force_half_open()
        self.state.balancer(self.state.registry.models[dep.model]).observe(dep.id, latency)
        return ProbeResult(dep.id, kind, ok=True, latency_ms=latency)

    def _failed(
        self, dep: Deployment, error: GatewayError | None, *, timed_out: bool = False
    ) -> None:
        if error is None and not timed_out:
            return  # the probe's request was refused as invalid: no health signal
        retry_after = error.retry_after_s if error is not None else None
        self.state.breaker(dep).record_failure(retry_after_s=retry_after)
