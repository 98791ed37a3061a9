"""Prometheus instruments of the provider service: the health of its leased keys."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from services.kernel.semconv import PROVIDER_LABEL

__all__ = ["KeyHealthCollector"]


class KeyHealthCollector(Collector):
    """`agentopia_provider_key_health`, read from the source at scrape time (so the
    request path pays nothing): 1 healthy, 2 cooling down, 3 failing (KeyHealth)."""

    def __init__(self, source: Callable[[], Iterable[tuple[str, str, int]]]) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "agentopia_provider_key_health",
            "Provider credential health by key id: 1 healthy, 2 cooling down, 3 failing.",
            labels=[PROVIDER_LABEL, "key_id"],
        )
        for provider, key_id, health in self._source():
            family.add_metric([provider, key_id], health)
        yield family
