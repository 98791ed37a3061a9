"""Usage events: built on the request path (one small proto), sent off it in batches."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from agentopia.v1 import chat_pb2, metrics_service_pb2
from agentopia.v1 import provider_service_pb2 as pv_pb2

from metrics.client.pricing import Priced, PriceTable, price
from services.kernel.errors import GatewayError

if TYPE_CHECKING:
    from metrics.client import UsageRecorder
    from services.router.instruments import GatewayInstruments
    from services.router.pipeline import InferenceRequest
    from services.router.routing import Attempt, Plan

__all__ = [
    "Outcome",
    "RecordingSink",
    "UsageSink",
    "build_event",
    "price_event",
    "served_attempt",
]


class UsageSink(Protocol):
    def record(self, event: metrics_service_pb2.UsageEvent) -> None:
        """Queue an event; never blocks, never raises."""
        ...


@dataclass(slots=True)
class Outcome:
    usage: chat_pb2.Usage | None = None
    timing: pv_pb2.UpstreamTiming | None = None
    error: GatewayError | None = None
    first_token_at: float | None = None


class RecordingSink:
    """Count the event in this process's Prometheus instruments, then hand it to the
    batching recorder for the metrics service (which prices what arrives unpriced)."""

    def __init__(self, recorder: UsageRecorder, instruments: GatewayInstruments) -> None:
        self._recorder = recorder
        self._instruments = instruments

    def record(self, event: metrics_service_pb2.UsageEvent) -> None:
        self._instruments.observe_usage(event)
        self._recorder.record(event)


def price_event(
    event: metrics_service_pb2.UsageEvent, prices: PriceTable, *, upstream_model: str
) -> int | None:
    """Set the event's exact cost from the price table — what its provider bills for
    `upstream_model`, as admission estimated it; its cost in micro-USD (rounded up),
    or None when the model has no price (left unpriced, never $0)."""
    priced = price(upstream_model, event, provider=event.provider, table=prices)
    if not isinstance(priced, Priced):
        return None
    event.cost_usd = priced.cost_str
    return math.ceil(priced.cost_usd * 1_000_000)


def served_attempt(plan: Plan | None) -> Attempt | None:
    """The attempt that served (or, failing that, the last one tried)."""
    if plan is None:
        return None
    return plan.served or (plan.attempts[-1] if plan.attempts else None)


def build_event(
    request: InferenceRequest, plan: Plan | None, outcome: Outcome
) -> metrics_service_pb2.UsageEvent:
    """`plan` is None when the request was refused before any attempt (limits)."""
    latency_ms = (time.perf_counter() - request.started) * 1000.0
    served = served_attempt(plan)
    error = outcome.error
    event = metrics_service_pb2.UsageEvent(
        request_id=request.request_id,
        key_id=request.principal.key_id,
        team=request.principal.team,
        requested_model=request.parsed.model,
        operation=request.parsed.operation,
        stream=request.parsed.stream,
        latency_ms=latency_ms,
        status_code=200 if error is None else error.http_status,
        error_code="" if error is None else error.code,
        retries=0 if plan is None else plan.retries,
        failovers=0 if plan is None else plan.failovers,
        surface=request.surface,
    )
    if served is not None:
        event.model = served.response_model
        event.provider = served.provider
        event.deployment_id = served.deployment_id
    if outcome.first_token_at is not None:
        event.time_to_first_token_ms = (outcome.first_token_at - request.started) * 1000.0
    if outcome.usage is not None:
        usage = outcome.usage
        event.prompt_tokens = usage.prompt_tokens
        event.completion_tokens = usage.completion_tokens
        event.cached_tokens = usage.cached_tokens
        event.cache_creation_tokens = usage.cache_creation_tokens
        event.reasoning_tokens = usage.reasoning_tokens
    if outcome.timing is not None and outcome.timing.total_ms:
        event.upstream_latency_ms = outcome.timing.total_ms
        event.overhead_ms = max(0.0, latency_ms - outcome.timing.total_ms)
    return event
