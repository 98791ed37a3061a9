"""Model names reach Prometheus only as bounded label values: clients choose the names
they send (unknown ones, passthrough ids), and a series per name would grow the
router's memory and the metrics store without bound."""

from __future__ import annotations

import pathlib

from agentopia.v1 import metrics_service_pb2 as pb
from prometheus_client import CollectorRegistry

from services.router.instruments import GatewayInstruments
from services.router.routing.loader import parse_registry
from services.router.routing.registry import Registry

MODELS = pathlib.Path("services/router/routing/models.toml")


def _shipped() -> Registry:
    return parse_registry(MODELS.read_text(), source=str(MODELS))


def test_configured_names_are_their_own_label_and_others_are_folded() -> None:
    registry = _shipped()
    model = next(iter(registry.models))
    alias = next(iter(registry.aliases))
    provider = next(iter(registry.providers))
    assert registry.metric_label(model) == model
    assert registry.metric_label(alias) == alias
    assert registry.metric_label("auto") == "auto"
    assert registry.metric_label(f"{provider}/some-model-nobody-listed") == f"{provider}/*"
    assert registry.metric_label("no-such-model") == "other"
    assert registry.metric_label("nosuchvendor/x") == "other"
    assert registry.metric_label("") == "other"


def _series(registry: CollectorRegistry) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    return {
        (sample.name, tuple(sorted(sample.labels.items())))
        for family in registry.collect()
        for sample in family.samples
    }


def test_a_thousand_distinct_client_names_make_a_bounded_set_of_series() -> None:
    models = _shipped()
    provider = next(iter(models.providers))
    registry = CollectorRegistry()
    gateway = GatewayInstruments(registry, model_label=models.metric_label)

    def observe(requested: str, served: str) -> None:
        gateway.observe_usage(
            pb.UsageEvent(
                operation="chat",
                provider=provider,
                requested_model=requested,
                model=served,
                prompt_tokens=3,
                completion_tokens=2,
                cost_usd="0.000001",
                latency_ms=5.0,
                status_code=200 if served else 404,
                error_code="" if served else "model_not_found",
                retries=1,
            )
        )

    observe("unknown-0", "")
    observe(f"{provider}/passthrough-0", f"{provider}/passthrough-0")
    baseline = _series(registry)
    for n in range(1, 1000):
        observe(f"unknown-{n}", "")
        observe(f"{provider}/passthrough-{n}", f"{provider}/passthrough-{n}")
    assert _series(registry) == baseline
    label_values = {value for _, labels in baseline for _, value in labels}
    assert not any("unknown-" in v or "passthrough-" in v for v in label_values)
    assert {"other", f"{provider}/*"} <= label_values
