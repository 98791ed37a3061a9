"""Planning the attempts of one request: which deployment next, with what timeout,
after what pause — and recording each outcome into breakers, balancers and the
retry budget.

    plan = planner.attempts(decision, deadline_s=seconds_left)
    async with plan:
        async for attempt in plan:
            try:
                reply = await call_provider(attempt)      # attempt.timeout_s as gRPC timeout
            except GatewayError as err:
                attempt.fail(err)                          # the loop decides what comes next
            else:
                attempt.succeed()
    plan.served, plan.retries, plan.failovers              # for headers and the usage event

When no further attempt may be made, the loop raises the last error (or 503
`no_healthy_deployment` when every circuit was open, or 504 `deadline_exceeded`).

Order of attempts: the primary model's deployments as its balancer picks them
(each further one a same-model *retry*, paid from the retry budget), then each
fallback model in the decision's order (a *failover*: free, since it moves
load away from the failing place), skipping deployments whose circuit is open.
When every candidate has been tried, deployments that failed transiently are
tried again after exponential backoff with jitter (honouring Retry-After), while
the budget, `max_attempts` and the deadline allow. A context-window error skips
to models with a larger window; a rate limit with Retry-After rests the
deployment (its circuit opens for that long); a bad provider key is not tried
twice. After `attempt.first_byte()` (a stream has sent something to the client)
a failure ends the request: no retry is possible.

Outcomes feed the shared state: successes and health failures go to the
deployment's breaker (a client error counts as "it answered"), latencies to its
balancer (time to first byte for streams), retries to the budget.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable
from types import TracebackType

import grpc

from services.kernel.errors import GatewayError
from services.router.routing.balancer import Lease
from services.router.routing.registry import Deployment, Model
from services.router.routing.retry import (
    Disposition,
    classify,
    is_operator_error,
    is_timeout,
    is_total_timeout,
    may_retry,
    rate_limit_wait,
)
from services.router.routing.selection import Decision
from services.router.routing.state import RoutingState

__all__ = ["Attempt", "AttemptKind", "Plan", "Planner"]

_LIMIT_MARGIN_S = 2.0

Sleep = Callable[[float], Awaitable[None]]


class AttemptKind(enum.StrEnum):
    PRIMARY = "primary"
    RETRY = "retry"  # same model again (another or the same deployment)
    FAILOVER = "failover"  # the next model of the chain


class Attempt:
    """One call to one deployment. Resolve it exactly once: succeed() or fail()."""

    __slots__ = (
        "_first_byte_at",
        "_lease",
        "_plan",
        "deadline_bound",
        "deployment",
        "first_byte_timeout_s",
        "kind",
        "model",
        "number",
        "outcome",
        "started",
        "timeout_s",
    )

    def __init__(
        self,
        plan: Plan,
        model: Model,
        deployment: Deployment,
        lease: Lease,
        *,
        number: int,
        kind: AttemptKind,
        timeout_s: float,
        first_byte_timeout_s: float | None = None,
        deadline_bound: bool = False,
    ) -> None:
        self._plan = plan
        self._lease = lease
        self.model = model
        self.deployment = deployment
        self.number = number
        self.kind = kind
        # The attempt's whole time (its gRPC deadline) and its time to a first byte,
        # each the deployment's limit or what is left of the caller's deadline.
        self.timeout_s = timeout_s
        self.first_byte_timeout_s = (
            timeout_s if first_byte_timeout_s is None else first_byte_timeout_s
        )
        # The caller's deadline, not the deployment's limits, bounds this attempt: a
        # timeout then is not the deployment's fault.
        self.deadline_bound = deadline_bound
        self.started = plan.clock()
        self._first_byte_at: float | None = None
        self.outcome: str | None = None  # "success" | an error code | "abandoned"

    @property
    def grpc_timeout_s(self) -> float:
        """The deadline of the call to the provider service: the attempt's time, plus a
        margin when the deployment's own limit is what ends it, so that the provider
        service (which enforces it upstream) reports which limit it was."""
        return self.timeout_s if self.deadline_bound else self.timeout_s + _LIMIT_MARGIN_S

    # What the provider service's Invocation needs.
    @property
    def provider(self) -> str:
        return self.deployment.provider

    @property
    def upstream_model(self) -> str:
        return self.deployment.upstream_id

    @property
    def response_model(self) -> str:
        return self.model.id

    @property
    def deployment_id(self) -> str:
        return self.deployment.id

    @property
    def credential_id(self) -> str:
        return self.deployment.key_pool

    @property
    def default_max_tokens(self) -> int:
        return self.model.default_max_tokens

    @property
    def resolved(self) -> bool:
        return self.outcome is not None

    def first_byte(self) -> None:
        """Something reached the client: from now on this attempt cannot be retried."""
        if self._first_byte_at is None:
            self._first_byte_at = self._plan.clock()

    @property
    def first_byte_sent(self) -> bool:
        return self._first_byte_at is not None

    def elapsed_ms(self) -> float:
        return (self._plan.clock() - self.started) * 1000.0

    def latency_ms(self) -> float:
        """Time to first byte when known (streams), else time to completion."""
        end = self._first_byte_at if self._first_byte_at is not None else self._plan.clock()
        return (end - self.started) * 1000.0

    def succeed(self, latency_ms: float | None = None) -> None:
        self._plan._on_success(self, self.latency_ms() if latency_ms is None else latency_ms)

    def fail(self, error: GatewayError) -> None:
        self._plan._on_failure(self, error)

    def _finish(self, outcome: str, latency_ms: float | None) -> None:
        self.outcome = outcome
        self._lease.release(latency_ms)


class Planner:
    """Makes a `Plan` per request over the shared RoutingState."""

    def __init__(self, state: RoutingState, *, sleep: Sleep = asyncio.sleep) -> None:
        self.state = state
        self._sleep = sleep

    def attempts(
        self, decision: Decision, *, deadline_s: float | None = None, stream: bool = False
    ) -> Plan:
        """The attempts for `decision`; `deadline_s` = seconds left on the caller's deadline."""
        return Plan(self.state, decision, deadline_s=deadline_s, sleep=self._sleep, stream=stream)


class Plan:
    """An async iterator of attempts for one request; see the module docstring."""

    def __init__(
        self,
        state: RoutingState,
        decision: Decision,
        *,
        deadline_s: float | None,
        sleep: Sleep,
        stream: bool = False,
    ) -> None:
        self.state = state
        self.decision = decision
        self.stream = stream
        self.policy = state.config.retry
        self.clock = state.clock
        self._sleep = sleep
        now = self.clock()
        self.deadline = None if deadline_s is None else now + deadline_s
        self._models = list(decision.candidates)
        self._index = 0
        self._tried: set[str] = set()
        self._transient: dict[str, GatewayError] = {}  # deployment id -> its last error
        self._min_window: int | None = None
        self._pending: Attempt | None = None
        self._stop: GatewayError | None = None
        self.last_error: GatewayError | None = None
        self.served: Attempt | None = None
        self.attempts: list[Attempt] = []
        self.retries = 0
        self.failovers = 0
        state.budget.deposit()

    # ---- the iterator

    def __aiter__(self) -> Plan:
        return self

    async def __anext__(self) -> Attempt:
        if self._pending is not None and not self._pending.resolved:
            raise RuntimeError("resolve the previous attempt (succeed or fail) first")
        if self.served is not None:
            raise StopAsyncIteration
        if self._stop is not None:
            raise self._stop
        while True:
            attempt = await self._next_attempt()
            if attempt is not None:
                self._pending = attempt
                self.attempts.append(attempt)
                return attempt

    async def __aenter__(self) -> Plan:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release an attempt left unresolved (the caller was cancelled or broke out)."""
        pending = self._pending
        if pending is not None and not pending.resolved:
            pending._finish("abandoned", None)
            self.state.breaker(pending.deployment).record_abandoned()

    # ---- choosing

    async def _next_attempt(self) -> Attempt | None:
        if len(self.attempts) >= self.policy.max_attempts:
            raise self._final()
        choice = self._fresh_choice() or self._repeat_choice()
        if choice is None:
            raise self._final()
        model, dep, kind, delay = choice
        if delay > 0:
            if self.deadline is not None and self.clock() + delay >= self.deadline:
                raise self._final(out_of_time=True)
            await self._sleep(delay)
        total, first_byte, bound = self._timeouts(dep)
        breaker = self.state.breaker(dep)
        if not breaker.try_acquire():  # the circuit changed while we slept
            self._tried.add(dep.id)
            self._transient.pop(dep.id, None)
            return None
        self._count(kind)
        self._tried.add(dep.id)
        lease = self.state.balancer(model).acquire(dep)
        number = len(self.attempts) + 1
        return Attempt(
            self,
            model,
            dep,
            lease,
            number=number,
            kind=kind,
            timeout_s=total,
            first_byte_timeout_s=first_byte,
            deadline_bound=bound,
        )

    def _fresh_choice(self) -> tuple[Model, Deployment, AttemptKind, float] | None:
        """The next untried deployment: this model's siblings, then the next model."""
        while self._index < len(self._models):
            model = self._models[self._index]
            if self._fits(model):
                dep = self.state.balancer(model).pick(self._untried)
                if dep is not None:
                    kind = self._kind(model)
                    if kind is not AttemptKind.RETRY or self.state.budget.try_withdraw():
                        return model, dep, kind, 0.0
            self._index += 1
        return None

    def _repeat_choice(self) -> tuple[Model, Deployment, AttemptKind, float] | None:
        """A deployment that failed transiently, again after a backoff."""
        for model in self._models:
            if not self._fits(model):
                continue
            dep = self.state.balancer(model).pick(self._retryable)
            if dep is None:
                continue
            delay = self.policy.delay_s(self.retries + 1, self._transient[dep.id], self.state.rng)
            if delay is None:  # Retry-After longer than we wait: leave it alone
                del self._transient[dep.id]
                return self._repeat_choice()
            if not self.state.budget.try_withdraw():
                return None
            del self._transient[dep.id]
            return model, dep, AttemptKind.RETRY, delay
        return None

    def _untried(self, dep: Deployment) -> bool:
        return dep.id not in self._tried and self.state.breaker(dep).available()

    def _retryable(self, dep: Deployment) -> bool:
        return dep.id in self._transient and self.state.breaker(dep).available()

    def _fits(self, model: Model) -> bool:
        window = model.context_window
        return self._min_window is None or window is None or window > self._min_window

    def _kind(self, model: Model) -> AttemptKind:
        if not self.attempts:
            return AttemptKind.PRIMARY
        return AttemptKind.RETRY if self.attempts[-1].model is model else AttemptKind.FAILOVER

    def _count(self, kind: AttemptKind) -> None:
        if kind is AttemptKind.RETRY:
            self.retries += 1
        elif kind is AttemptKind.FAILOVER:
            self.failovers += 1

    def _timeouts(self, dep: Deployment) -> tuple[float, float, bool]:
        """(total, first byte, bound by the caller's deadline) for an attempt on `dep`.
        A non-streaming answer's first byte is its end: only the total applies."""
        total = max(dep.total_timeout_s, dep.timeout_s)
        first_byte = dep.timeout_s if self.stream else total
        if self.deadline is None:
            return total, first_byte, False
        left = self.deadline - self.clock()
        if left < self.policy.min_attempt_timeout_s:
            raise self._final(out_of_time=True)
        return min(total, left), min(first_byte, left), left < first_byte

    def _final(self, *, out_of_time: bool = False) -> GatewayError:
        if self.last_error is not None:
            self._stop = self.last_error
        elif out_of_time or (self.deadline is not None and self.clock() >= self.deadline):
            self._stop = _deadline_error()
        else:
            wait = self.state.retry_after_s(self._models)
            if self.state.all_rate_limited(self._models):
                self._stop = _rate_limited(self.decision.requested, wait)
            else:
                self._stop = _no_healthy(self.decision.requested, wait)
        return self._stop

    # ---- outcomes

    def _on_success(self, attempt: Attempt, latency_ms: float) -> None:
        self._check_pending(attempt)
        attempt._finish("success", latency_ms)
        self.state.breaker(attempt.deployment).record_success()
        self.served = attempt

    def _on_failure(self, attempt: Attempt, error: GatewayError) -> None:
        self._check_pending(attempt)
        self.last_error = error
        disposition = classify(error)
        breaker = self.state.breaker(attempt.deployment)
        # Our deadline, or the whole-generation limit, ended it: not the deployment's fault.
        not_its_fault = is_timeout(error) and (attempt.deadline_bound or is_total_timeout(error))
        timed_out = is_timeout(error) and not not_its_fault
        attempt._finish(error.code, attempt.elapsed_ms() if timed_out else None)
        if disposition is Disposition.RETRY and not not_its_fault:
            self._record_failure(attempt, error)
        elif disposition is Disposition.RETRY or not_its_fault:
            breaker.record_abandoned()
        else:
            breaker.record_success()  # it answered; the request was the problem
        if disposition is Disposition.FINAL or not may_retry(
            first_byte_sent=attempt.first_byte_sent
        ):
            self._stop = error
        elif disposition is Disposition.LARGER_CONTEXT:
            window = attempt.model.context_window
            self._min_window = window if window is not None else self._min_window
            self._models = [m for m in self._models if m is not attempt.model]
            self._index = 0

    def _record_failure(self, attempt: Attempt, error: GatewayError) -> None:
        breaker = self.state.breaker(attempt.deployment)
        wait = rate_limit_wait(error)
        if wait:  # the key is refused until then: stop sending anything there
            breaker.trip(wait)
        else:
            breaker.record_failure(retry_after_s=error.retry_after_s)
        if not is_operator_error(error):
            self._transient[attempt.deployment.id] = error

    def _check_pending(self, attempt: Attempt) -> None:
        if attempt is not self._pending or attempt.resolved:
            raise RuntimeError("an attempt is resolved once, and only the current one")


def _deadline_error() -> GatewayError:
    return GatewayError(
        status=grpc.StatusCode.DEADLINE_EXCEEDED,
        code="deadline_exceeded",
        message="The request's deadline passed before a model could answer. "
        "Allow more time or use a faster model.",
        retryable=True,
    )


def _rate_limited(requested: str, retry_after_s: float) -> GatewayError:
    """Every deployment is cooling down on its provider's Retry-After: the same 429 the
    provider gave, with the cool-down that remains."""
    return GatewayError(
        status=grpc.StatusCode.RESOURCE_EXHAUSTED,
        code="upstream_rate_limited",
        message=f"Every deployment that could serve {requested!r} is rate-limited by its "
        "provider. Retry after the indicated delay.",
        http_status=429,
        retryable=True,
        retry_after_s=max(round(retry_after_s, 3), 0.001),
    )


def _no_healthy(requested: str, retry_after_s: float) -> GatewayError:
    return GatewayError(
        status=grpc.StatusCode.UNAVAILABLE,
        code="no_healthy_deployment",
        message=f"Every deployment that could serve {requested!r} is failing (circuit open). "
        "Retry after the indicated delay.",
        http_status=503,
        retryable=True,
        retry_after_s=round(retry_after_s, 3) if retry_after_s > 0 else None,
    )
