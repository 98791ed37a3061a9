"""Prometheus exposition for every Agentopia service, and the gateway's instruments.

Any service:

    from metrics.exposition import start_exposition_from_env
    exposition = start_exposition_from_env(default_port=9101)   # AGENTOPIA_PROMETHEUS_PORT, 0 = off
    ...
    exposition.close() if exposition else None

The router additionally creates `GatewayInstruments()` once per process and calls
`observe_usage(event)` per request (plus the circuit/key gauges as they change).

Names follow the OpenTelemetry GenAI semantic conventions mapped to Prometheus
(dots become underscores, the unit `s` becomes the `_seconds` suffix, the
annotation unit `{token}` adds none): `gen_ai_client_token_usage`,
`gen_ai_client_operation_duration_seconds`, `gen_ai_server_time_to_first_token_seconds`,
with the conventions' attributes as labels (`gen_ai_operation_name`,
`gen_ai_provider_name`, `gen_ai_request_model`, `gen_ai_response_model`,
`gen_ai_token_type`, `error_type`) and their advisory bucket boundaries.
Gateway-specific series are `agentopia_*`. Labels never carry secrets: keys by id only.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from agentopia.v1 import metrics_service_pb2 as pb
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import start_wsgi_server
from prometheus_client.registry import Collector

from services.kernel.config import env_int, env_str

__all__ = [
    "Exposition",
    "GatewayInstruments",
    "KeyHealthCollector",
    "MetricsServiceInstruments",
    "RecorderInstruments",
    "start_exposition",
    "start_exposition_from_env",
]

TOKEN_BUCKETS = (
    1,
    4,
    16,
    64,
    256,
    1024,
    4096,
    16384,
    65536,
    262144,
    1048576,
    4194304,
    16777216,
    67108864,
)
DURATION_BUCKETS = (
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
)
TTFT_BUCKETS = (
    0.001,
    0.005,
    0.01,
    0.02,
    0.04,
    0.06,
    0.08,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)
OVERHEAD_BUCKETS = (0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)

_OP, _PROVIDER = "gen_ai_operation_name", "gen_ai_provider_name"
_REQ_MODEL, _RESP_MODEL = "gen_ai_request_model", "gen_ai_response_model"


@dataclass
class Exposition:
    """A running /metrics HTTP server (a daemon thread)."""

    port: int
    _server: WSGIServer
    _thread: threading.Thread

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def start_exposition(
    port: int, *, addr: str = "127.0.0.1", registry: CollectorRegistry = REGISTRY
) -> Exposition:
    """Serve `registry` at http://addr:port/metrics; port 0 picks a free port."""
    server, thread = start_wsgi_server(port, addr=addr, registry=registry)
    return Exposition(port=int(server.server_port), _server=server, _thread=thread)


def start_exposition_from_env(
    default_port: int,
    *,
    env: Mapping[str, str] | None = None,
    registry: CollectorRegistry = REGISTRY,
) -> Exposition | None:
    """`AGENTOPIA_PROMETHEUS_PORT` (0 = off) on `AGENTOPIA_PROMETHEUS_ADDR`
    (default 127.0.0.1; set 0.0.0.0 in a pod so Prometheus can scrape it)."""
    source = os.environ if env is None else env
    port = env_int("AGENTOPIA_PROMETHEUS_PORT", default_port, source)
    if port == 0:
        return None
    addr = env_str("AGENTOPIA_PROMETHEUS_ADDR", "127.0.0.1", source)
    return start_exposition(port, addr=addr, registry=registry)


class RecorderInstruments:
    """The usage sender's own health (metrics.client.UsageRecorder)."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.buffer_depth = Gauge(
            "agentopia_usage_buffer_depth",
            "Usage events waiting to be sent to the metrics service.",
            registry=registry,
        )
        self.sent = Counter(
            "agentopia_usage_events_sent",
            "Usage events the metrics service acknowledged.",
            registry=registry,
        )
        self.dropped = Counter(
            "agentopia_usage_events_dropped",
            "Usage events given up on: buffer_full, shutdown (not flushed in time), rejected.",
            ["reason"],
            registry=registry,
        )
        self.send_failures = Counter(
            "agentopia_usage_send_failures",
            "Failed RecordUsage attempts (each is retried), by gRPC code.",
            ["code"],
            registry=registry,
        )


class KeyHealthCollector(Collector):
    """`agentopia_provider_key_health`, read from the source at scrape time (so the
    request path pays nothing): 1 healthy, 2 cooling down, 3 failing (KeyHealth)."""

    def __init__(self, source: Callable[[], Iterable[tuple[str, str, int]]]) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "agentopia_provider_key_health",
            "Provider credential health by key id: 1 healthy, 2 cooling down, 3 failing.",
            labels=[_PROVIDER, "key_id"],
        )
        for provider, key_id, health in self._source():
            family.add_metric([provider, key_id], health)
        yield family


class GatewayInstruments:
    """The router's request metrics. Create once per process per registry."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        base = [_OP, _PROVIDER, _REQ_MODEL, _RESP_MODEL]
        self.token_usage = Histogram(
            "gen_ai_client_token_usage",
            "Number of input and output tokens used (billable).",
            [*base, "gen_ai_token_type"],
            buckets=TOKEN_BUCKETS,
            registry=registry,
        )
        self.operation_duration = Histogram(
            "gen_ai_client_operation_duration_seconds",
            "GenAI operation duration, as the gateway's client sees it.",
            [*base, "error_type"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.time_to_first_token = Histogram(
            "gen_ai_server_time_to_first_token_seconds",
            "Time to generate the first token, for successful streamed responses.",
            base,
            buckets=TTFT_BUCKETS,
            registry=registry,
        )
        self.gateway_overhead = Histogram(
            "agentopia_gateway_overhead_seconds",
            "Time the gateway itself adds to a request (total minus upstream).",
            [_OP],
            buckets=OVERHEAD_BUCKETS,
            registry=registry,
        )
        self.tokens = Counter(
            "agentopia_tokens",
            "Tokens by kind: input (uncached), cached_input, cache_write, output, reasoning.",
            [_PROVIDER, _RESP_MODEL, "kind"],
            registry=registry,
        )
        self.cost = Counter(
            "agentopia_cost_usd",
            "Cost in USD (float; the exact figure is in the metrics service's reports).",
            [_PROVIDER, _RESP_MODEL],
            registry=registry,
        )
        self.retries = Counter(
            "agentopia_retries", "Upstream retries.", [_PROVIDER, _REQ_MODEL], registry=registry
        )
        self.failovers = Counter(
            "agentopia_failovers",
            "Failovers to another deployment.",
            [_PROVIDER, _REQ_MODEL],
            registry=registry,
        )
        self.circuit_state = Gauge(
            "agentopia_circuit_state",
            "Circuit breaker per deployment: 1 closed, 2 half-open, 3 open (CircuitState).",
            ["deployment_id", _PROVIDER],
            registry=registry,
        )
        self.recorder = RecorderInstruments(registry)

    def observe_usage(self, event: pb.UsageEvent) -> None:
        """Record one finished request from the usage event the router emits."""
        op = event.operation or "chat"
        labels = (op, event.provider, event.requested_model, event.model)
        fresh = event.prompt_tokens - event.cached_tokens - event.cache_creation_tokens
        if event.prompt_tokens or event.completion_tokens:
            self.token_usage.labels(*labels, "input").observe(event.prompt_tokens)
            self.token_usage.labels(*labels, "output").observe(event.completion_tokens)
        kinds = {
            "input": fresh,
            "cached_input": event.cached_tokens,
            "cache_write": event.cache_creation_tokens,
            "output": event.completion_tokens - event.reasoning_tokens,
            "reasoning": event.reasoning_tokens,
        }
        for kind, count in kinds.items():
            if count > 0:
                self.tokens.labels(event.provider, event.model, kind).inc(count)
        if event.cost_usd:
            self.cost.labels(event.provider, event.model).inc(float(event.cost_usd))
        error_type = event.error_code if event.status_code >= 400 or event.error_code else ""
        self.operation_duration.labels(*labels, error_type).observe(event.latency_ms / 1000)
        if event.stream and event.time_to_first_token_ms > 0 and not error_type:
            self.time_to_first_token.labels(*labels).observe(event.time_to_first_token_ms / 1000)
        self.gateway_overhead.labels(op).observe(max(event.overhead_ms, 0.0) / 1000)
        if event.retries:
            self.retries.labels(event.provider, event.requested_model).inc(event.retries)
        if event.failovers:
            self.failovers.labels(event.provider, event.requested_model).inc(event.failovers)

    def set_circuit(self, circuit: pb.DeploymentCircuit) -> None:
        self.circuit_state.labels(circuit.deployment_id, circuit.provider).set(circuit.state)


class MetricsServiceInstruments:
    """The metrics service's own work."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.events = Counter(
            "agentopia_metrics_events",
            "Usage events received, by result: stored, duplicate, rejected.",
            ["result"],
            registry=registry,
        )
        self.batch_write = Histogram(
            "agentopia_metrics_batch_write_seconds",
            "Time to store one RecordUsage batch (events and rollup, one transaction).",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=registry,
        )
        self.write_failures = Counter(
            "agentopia_metrics_batch_write_failures",
            "Batches not stored because the database failed (the sender retries them).",
            registry=registry,
        )
        self.live_subscribers = Gauge(
            "agentopia_metrics_live_subscribers",
            "Open live-stream subscriptions.",
            registry=registry,
        )
