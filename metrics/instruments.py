"""Prometheus instruments of the metrics service's own work: ingest, batch writes,
live subscribers."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["MetricsServiceInstruments"]

_WRITE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class MetricsServiceInstruments:
    """Events by result, batch write time and failures, open live streams."""

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
            buckets=_WRITE_BUCKETS,
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
