"""Prometheus instruments of the usage sender (`metrics.client.UsageRecorder`): its
own health, exported by whichever service runs a sender (the router)."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge

__all__ = ["RecorderInstruments"]


class RecorderInstruments:
    """Buffer depth, acknowledged, dropped and failed sends. Create once per registry."""

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
