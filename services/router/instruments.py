"""Prometheus instruments of the router: per-request GenAI metrics, retries,
failovers, circuit state, and the usage sender's own health.

Names follow the OpenTelemetry GenAI semantic conventions mapped to Prometheus:
`gen_ai_client_token_usage`, `gen_ai_client_operation_duration_seconds`,
`gen_ai_server_time_to_first_token_seconds`, labelled with the conventions'
attributes (`gen_ai_operation_name`, `gen_ai_provider_name`, `gen_ai_request_model`,
`gen_ai_response_model`, `gen_ai_token_type`, `error_type`) and bucketed at their
advisory boundaries. Gateway-specific series are `agentopia_*`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agentopia.v1 import metrics_service_pb2 as pb
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from metrics.client.instruments import RecorderInstruments
from services.kernel.exposition import (
    DURATION_BUCKETS,
    OVERHEAD_BUCKETS,
    TOKEN_BUCKETS,
    TTFT_BUCKETS,
)
from services.kernel.semconv import (
    OPERATION_LABEL,
    PROVIDER_LABEL,
    REQUEST_MODEL_LABEL,
    RESPONSE_MODEL_LABEL,
    TOKEN_TYPE_LABEL,
)

__all__ = ["GatewayInstruments"]

_BASE = [OPERATION_LABEL, PROVIDER_LABEL, REQUEST_MODEL_LABEL, RESPONSE_MODEL_LABEL]


class GatewayInstruments:
    """The router's request metrics. Create once per process per registry."""

    def __init__(
        self,
        registry: CollectorRegistry = REGISTRY,
        *,
        model_label: Callable[[str], str] = lambda name: name,
    ) -> None:
        # Model names become label values only through `model_label`, which keeps
        # them to a bounded set (Registry.metric_label): the label children cached
        # below, and the series Prometheus stores, stay bounded too.
        self._model_label = model_label
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self.token_usage = Histogram(
            "gen_ai_client_token_usage",
            "Number of input and output tokens used (billable).",
            [*_BASE, TOKEN_TYPE_LABEL],
            buckets=TOKEN_BUCKETS,
            registry=registry,
        )
        self.operation_duration = Histogram(
            "gen_ai_client_operation_duration_seconds",
            "GenAI operation duration, as the gateway's client sees it.",
            [*_BASE, "error_type"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.time_to_first_token = Histogram(
            "gen_ai_server_time_to_first_token_seconds",
            "Time to generate the first token, for successful streamed responses.",
            _BASE,
            buckets=TTFT_BUCKETS,
            registry=registry,
        )
        self.gateway_overhead = Histogram(
            "agentopia_gateway_overhead_seconds",
            "Time the gateway itself adds to a request (total minus upstream).",
            [OPERATION_LABEL],
            buckets=OVERHEAD_BUCKETS,
            registry=registry,
        )
        self._counters(registry)
        self.recorder = RecorderInstruments(registry)

    def _counters(self, registry: CollectorRegistry) -> None:
        self.tokens = Counter(
            "agentopia_tokens",
            "Tokens by kind: input (uncached), cached_input, cache_write, output, reasoning.",
            [PROVIDER_LABEL, RESPONSE_MODEL_LABEL, "kind"],
            registry=registry,
        )
        self.cost = Counter(
            "agentopia_cost_usd",
            "Cost in USD (float; the exact figure is in the metrics service's reports).",
            [PROVIDER_LABEL, RESPONSE_MODEL_LABEL],
            registry=registry,
        )
        self.retries = Counter(
            "agentopia_retries",
            "Upstream retries.",
            [PROVIDER_LABEL, REQUEST_MODEL_LABEL],
            registry=registry,
        )
        self.failovers = Counter(
            "agentopia_failovers",
            "Failovers to another deployment.",
            [PROVIDER_LABEL, REQUEST_MODEL_LABEL],
            registry=registry,
        )
        self.circuit_state = Gauge(
            "agentopia_circuit_state",
            "Circuit breaker per deployment: 1 closed, 2 half-open, 3 open (CircuitState).",
            ["deployment_id", PROVIDER_LABEL],
            registry=registry,
        )

    def observe_usage(self, event: pb.UsageEvent) -> None:
        """Record one finished request from the usage event the router emits."""
        op = event.operation or "chat"
        requested = self._model_label(event.requested_model)
        labels = (op, event.provider, requested, self._model_label(event.model))
        if event.prompt_tokens or event.completion_tokens:
            self._child(self.token_usage, *labels, "input").observe(event.prompt_tokens)
            self._child(self.token_usage, *labels, "output").observe(event.completion_tokens)
        self._count_tokens(event, labels[3])
        if event.cost_usd:
            self._child(self.cost, event.provider, labels[3]).inc(float(event.cost_usd))
        error_type = event.error_code if event.status_code >= 400 or event.error_code else ""
        self._child(self.operation_duration, *labels, error_type).observe(event.latency_ms / 1000)
        if event.stream and event.time_to_first_token_ms > 0 and not error_type:
            ttft_s = event.time_to_first_token_ms / 1000
            self._child(self.time_to_first_token, *labels).observe(ttft_s)
        self._child(self.gateway_overhead, op).observe(max(event.overhead_ms, 0.0) / 1000)
        if event.retries:
            self._child(self.retries, event.provider, requested).inc(event.retries)
        if event.failovers:
            self._child(self.failovers, event.provider, requested).inc(event.failovers)

    def _child(self, metric: Any, *labels: str) -> Any:
        """`metric.labels(*labels)`, looked up once per label set: prometheus_client
        validates and hashes labels on every call, this is one dict hit per request."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def _count_tokens(self, event: pb.UsageEvent, model: str) -> None:
        fresh = event.prompt_tokens - event.cached_tokens - event.cache_creation_tokens
        kinds = {
            "input": fresh,
            "cached_input": event.cached_tokens,
            "cache_write": event.cache_creation_tokens,
            "output": event.completion_tokens - event.reasoning_tokens,
            "reasoning": event.reasoning_tokens,
        }
        for kind, count in kinds.items():
            if count > 0:
                self._child(self.tokens, event.provider, model, kind).inc(count)

    def set_circuit(self, circuit: pb.DeploymentCircuit) -> None:
        self.circuit_state.labels(circuit.deployment_id, circuit.provider).set(circuit.state)
