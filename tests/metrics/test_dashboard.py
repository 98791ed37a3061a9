"""The Grafana dashboard shipped in helm/ is valid JSON and only queries
series our instruments actually expose."""

from __future__ import annotations

import json
import pathlib
import re

from prometheus_client import CollectorRegistry

from metrics.instruments import MetricsServiceInstruments
from services.provider.instruments import KeyHealthCollector
from services.router.instruments import GatewayInstruments

DASHBOARD = pathlib.Path(__file__).resolve().parents[2] / "helm/dashboards/agentopia-grafana.json"
SERIES = re.compile(r"\b((?:gen_ai|agentopia)_[a-z0-9_]+)")


def exposed_series() -> set[str]:
    registry = CollectorRegistry()
    GatewayInstruments(registry)
    MetricsServiceInstruments(registry)
    registry.register(KeyHealthCollector(lambda: [("openai", "pk_1", 1)]))  # provider service
    names: set[str] = set()
    for family in registry.collect():
        names.add(family.name)
        kind = family.type
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}
        names.update(family.name + suffix for suffix in suffixes.get(kind, []))
    return names


def test_dashboard_is_valid_and_queries_known_series() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
    panels = dashboard["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    known = exposed_series()
    labels = {"gen_ai_provider_name", "gen_ai_response_model", "gen_ai_token_type"}
    used: set[str] = set()
    for panel in panels:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            used.update(SERIES.findall(target["expr"]))
    unknown = used - known - labels
    assert not unknown, unknown
    for series in (
        "gen_ai_client_token_usage_bucket",
        "gen_ai_client_operation_duration_seconds_bucket",
        "gen_ai_server_time_to_first_token_seconds_bucket",
        "agentopia_circuit_state",
        "agentopia_provider_key_health",
        "agentopia_usage_buffer_depth",
    ):
        assert series in used, series
