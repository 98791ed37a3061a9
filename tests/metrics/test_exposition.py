"""/metrics parses as Prometheus exposition format, with the GenAI names."""

from __future__ import annotations

import datetime as dt
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from agentopia.v1 import metrics_service_pb2 as pb
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from metrics.instruments import MetricsServiceInstruments
from services.kernel.config import ConfigError
from services.kernel.exposition import Exposition, start_exposition, start_exposition_from_env
from services.kernel.semconv import genai_span_attributes
from services.provider.instruments import KeyHealthCollector
from services.router.instruments import GatewayInstruments
from tests.metrics.conftest import Running
from tests.metrics.workload import workload


def scrape(port: int) -> dict[str, object]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        assert reply.headers["Content-Type"].startswith("text/plain")
        text = reply.read().decode()
    return {family.name: family for family in text_string_to_metric_families(text)}


@pytest.fixture
def exposed() -> Iterator[tuple[Exposition, CollectorRegistry]]:
    registry = CollectorRegistry()
    exposition = start_exposition(0, registry=registry)
    yield exposition, registry
    exposition.close()


def test_gateway_instruments_follow_genai_conventions(
    exposed: tuple[Exposition, CollectorRegistry],
) -> None:
    exposition, registry = exposed
    gateway = GatewayInstruments(registry)
    gateway.observe_usage(
        pb.UsageEvent(
            operation="chat",
            provider="openai",
            requested_model="auto",
            model="gpt-4o",
            prompt_tokens=120,
            cached_tokens=100,
            completion_tokens=30,
            reasoning_tokens=10,
            cost_usd="0.000425",
            latency_ms=850.0,
            time_to_first_token_ms=120.0,
            upstream_latency_ms=840.0,
            overhead_ms=10.0,
            stream=True,
            status_code=200,
            retries=1,
            failovers=1,
        )
    )
    gateway.observe_usage(
        pb.UsageEvent(
            provider="groq",
            model="llama",
            status_code=429,
            error_code="rate_limited",
            latency_ms=5.0,
        )
    )
    gateway.set_circuit(
        pb.DeploymentCircuit(deployment_id="d1", provider="openai", state=pb.CIRCUIT_STATE_OPEN)
    )
    # The provider service's key health, read from its key index at scrape time.
    registry.register(KeyHealthCollector(lambda: [("openai", "pk_1", pb.KEY_HEALTH_HEALTHY)]))
    gateway.recorder.buffer_depth.set(3)
    families = scrape(exposition.port)
    for name in (
        "gen_ai_client_token_usage",
        "gen_ai_client_operation_duration_seconds",
        "gen_ai_server_time_to_first_token_seconds",
        "agentopia_gateway_overhead_seconds",
        "agentopia_retries",
        "agentopia_failovers",
        "agentopia_circuit_state",
        "agentopia_provider_key_health",
        "agentopia_usage_buffer_depth",
        "agentopia_usage_events_dropped",
        "agentopia_tokens",
        "agentopia_cost_usd",
    ):
        assert name in families, name
    labels = {
        "gen_ai_operation_name": "chat",
        "gen_ai_provider_name": "openai",
        "gen_ai_request_model": "auto",
        "gen_ai_response_model": "gpt-4o",
    }
    value = registry.get_sample_value
    assert value("gen_ai_client_token_usage_sum", {**labels, "gen_ai_token_type": "input"}) == 120
    assert value("gen_ai_client_token_usage_sum", {**labels, "gen_ai_token_type": "output"}) == 30
    assert (
        value(
            "agentopia_tokens_total",
            {
                "gen_ai_provider_name": "openai",
                "gen_ai_response_model": "gpt-4o",
                "kind": "cached_input",
            },
        )
        == 100
    )
    assert (
        value("gen_ai_client_operation_duration_seconds_count", {**labels, "error_type": ""}) == 1
    )
    errors = {
        "gen_ai_operation_name": "chat",
        "gen_ai_provider_name": "groq",
        "gen_ai_request_model": "",
        "gen_ai_response_model": "llama",
        "error_type": "rate_limited",
    }
    assert value("gen_ai_client_operation_duration_seconds_count", errors) == 1
    assert value("gen_ai_server_time_to_first_token_seconds_sum", labels) == pytest.approx(0.12)
    assert (
        value("agentopia_circuit_state", {"deployment_id": "d1", "gen_ai_provider_name": "openai"})
        == 3
    )


def test_exposition_from_env_can_be_off() -> None:
    assert start_exposition_from_env(9104, env={"AGENTOPIA_PROMETHEUS_PORT": "0"}) is None
    registry = CollectorRegistry()
    exposition = start_exposition_from_env(
        9104,
        env={"AGENTOPIA_PROMETHEUS_PORT": "0", "AGENTOPIA_PROMETHEUS_ADDR": "127.0.0.1"},
        registry=registry,
    )
    assert exposition is None


def test_exposition_on_any_port_publishes_the_bound_port(tmp_path: Path) -> None:
    port_file = tmp_path / "prometheus.port"
    env = {"AGENTOPIA_PROMETHEUS_PORT": "any", "AGENTOPIA_PROMETHEUS_PORT_FILE": str(port_file)}
    registry = CollectorRegistry()
    MetricsServiceInstruments(registry)
    exposition = start_exposition_from_env(9104, env=env, registry=registry)
    assert exposition is not None
    try:
        assert int(port_file.read_text()) == exposition.port
        assert "agentopia_metrics_events" in scrape(exposition.port)
    finally:
        exposition.close()


@pytest.mark.parametrize("raw", ["ninety", "-1", "70000"])
def test_a_malformed_exposition_port_names_the_variable(raw: str) -> None:
    with pytest.raises(ConfigError, match="AGENTOPIA_PROMETHEUS_PORT"):
        start_exposition_from_env(9104, env={"AGENTOPIA_PROMETHEUS_PORT": raw})


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_metrics_service_exposes_its_own_work(running: Running) -> None:
    events = workload(10, dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.timedelta(seconds=10))
    await running.stub.RecordUsage(pb.RecordUsageRequest(events=[*events, events[0]]))
    exposition = start_exposition(0, registry=running.registry)
    try:
        families = scrape(exposition.port)
    finally:
        exposition.close()
    assert "agentopia_metrics_events" in families
    assert "agentopia_metrics_batch_write_seconds" in families
    value = running.registry.get_sample_value
    assert value("agentopia_metrics_events_total", {"result": "stored"}) == 10
    assert value("agentopia_metrics_events_total", {"result": "duplicate"}) == 1


def test_instruments_share_one_registry() -> None:
    registry = CollectorRegistry()
    GatewayInstruments(registry)
    MetricsServiceInstruments(registry)  # distinct names: no collision


def test_genai_span_attributes_carry_ids_and_numbers_only() -> None:
    event = pb.UsageEvent(
        operation="chat",
        provider="anthropic",
        requested_model="auto",
        model="claude-sonnet-4",
        key_id="key_0a1b",
        prompt_tokens=100,
        completion_tokens=20,
        cached_tokens=80,
        status_code=429,
        error_code="rate_limited",
        cost_usd="0.000123",
    )
    attributes = genai_span_attributes(event)
    assert attributes["gen_ai.provider.name"] == "anthropic"
    assert attributes["gen_ai.usage.input_tokens"] == 100
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == 80
    assert attributes["error.type"] == "rate_limited"
    assert all(isinstance(v, str | int | float | bool) for v in attributes.values())
    assert not any("sk-" in str(v) for v in attributes.values())
