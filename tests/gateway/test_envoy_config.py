"""The rendered bootstrap: accepted by the real Envoy, consistent with the protos."""

from __future__ import annotations

import dataclasses
import pathlib
import subprocess

import pytest
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2

from gateway.envoy_config import render_bootstrap, to_yaml
from gateway.launcher import envoy_command
from gateway.routes import SERVICE_ROUTES, with_console_routes
from gateway.settings import EdgeSettings, HostPort, OtelSettings, parse_host_port
from services.kernel.config import ConfigError


def validate(settings: EdgeSettings, tmp_path: pathlib.Path) -> str:
    """Run `envoy --mode validate`; returns its output (fails the test on error)."""
    config = tmp_path / "envoy.yaml"
    config.write_text(to_yaml(render_bootstrap(settings)))
    command = [*envoy_command(config, concurrency=1), "--mode", "validate"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "OK" in output
    return output


def test_default_bootstrap_is_valid_without_deprecated_fields(tmp_path: pathlib.Path) -> None:
    output = validate(EdgeSettings(console_dir=None), tmp_path)
    assert "Deprecated" not in output
    assert "work-in-progress" not in output


def test_cluster_bootstrap_with_dns_otel_and_stats_is_valid(tmp_path: pathlib.Path) -> None:
    env = {
        "AGENTOPIA_EDGE_LISTEN": "0.0.0.0:8080",
        "AGENTOPIA_ROUTER_TARGET": "dns:///agentopia-router-headless.prod.svc.cluster.local:50051",
        "AGENTOPIA_KEYVAULT_TARGET": "agentopia-keyvault-headless:50053",
        "AGENTOPIA_EDGE_STATS_LISTEN": "0.0.0.0:9105",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector.observability:4317",
        "AGENTOPIA_CONSOLE_DIR": "off",
    }
    settings = EdgeSettings.from_env(env)
    assert settings.router == HostPort("agentopia-router-headless.prod.svc.cluster.local", 50051)
    assert settings.otel is not None and settings.otel.protocol == "grpc"
    output = validate(settings, tmp_path)
    assert "Deprecated" not in output


def test_otlp_over_https_is_valid(tmp_path: pathlib.Path) -> None:
    otel = OtelSettings.from_env(
        {
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://collector.example.com/v1/traces",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_SERVICE_NAME": "edge-eu",
        }
    )
    assert otel == OtelSettings(
        HostPort("collector.example.com", 4318), "http/protobuf", True, "edge-eu"
    )
    validate(EdgeSettings(console_dir=None, otel=otel), tmp_path)


def test_tracing_is_off_without_an_endpoint() -> None:
    assert OtelSettings.from_env({}) is None
    assert (
        OtelSettings.from_env(
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_TRACES_EXPORTER": "none"}
        )
        is None
    )
    manager = render_bootstrap(EdgeSettings(console_dir=None))["static_resources"]["listeners"][0]
    assert "tracing" not in manager["filter_chains"][0]["filters"][0]["typed_config"]


def test_console_files_become_routes(tmp_path: pathlib.Path) -> None:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>console</title>")
    (dist / "assets" / "app.js").write_text("console.log('hi')")
    output = validate(EdgeSettings(console_dir=dist), tmp_path)
    assert "Deprecated" not in output
    # The Helm ConfigMap's bootstrap gets the same routes added at start.
    plain = render_bootstrap(EdgeSettings(console_dir=None))
    added = with_console_routes(plain, dist)
    assert added == render_bootstrap(EdgeSettings(console_dir=dist))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AGENTOPIA_EDGE_LISTEN", "8080"),
        ("AGENTOPIA_ROUTER_TARGET", "router:http"),
        ("AGENTOPIA_METRICS_TARGET", ":1"),
    ],
)
def test_bad_addresses_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        EdgeSettings.from_env({name: value})


def test_address_forms() -> None:
    assert parse_host_port("X", "[::1]:8080") == HostPort("::1", 8080)
    assert parse_host_port("X", "dns:///router:50051") == HostPort("router", 50051)
    assert (
        EdgeSettings.from_env({"AGENTOPIA_EDGE_MAX_BODY_BYTES": "1048576"}).max_body_bytes
        == 1 << 20
    )


def test_the_console_is_served_only_when_it_is_built(tmp_path: pathlib.Path) -> None:
    assert EdgeSettings().console_dir is None
    assert EdgeSettings.from_env({"AGENTOPIA_CONSOLE_DIR": "off"}).console_dir is None
    with pytest.raises(ConfigError, match=r"AGENTOPIA_CONSOLE_DIR.*no index\.html"):
        EdgeSettings.from_env({"AGENTOPIA_CONSOLE_DIR": str(tmp_path)})
    (tmp_path / "index.html").write_text("<!doctype html>")
    assert EdgeSettings.from_env({"AGENTOPIA_CONSOLE_DIR": str(tmp_path)}).console_dir == tmp_path


def test_stats_need_a_fixed_admin_port() -> None:
    env = {"AGENTOPIA_EDGE_STATS_LISTEN": "127.0.0.1:9105"}
    with pytest.raises(ConfigError, match="AGENTOPIA_EDGE_ADMIN_LISTEN"):
        EdgeSettings.from_env({**env, "AGENTOPIA_EDGE_ADMIN_LISTEN": "127.0.0.1:0"})
    assert EdgeSettings.from_env(env).stats_listen == HostPort("127.0.0.1", 9105)


def _http_paths(service: descriptor_pb2.ServiceDescriptorProto) -> list[str]:
    paths = []
    for method in service.method:
        rule = method.options.Extensions[annotations_pb2.http]
        pattern = getattr(rule, rule.WhichOneof("pattern")) if rule.WhichOneof("pattern") else ""
        if pattern:
            paths.append(pattern)
    return paths


def test_every_rest_mapping_has_a_route() -> None:
    """When a service gains an RPC with a google.api.http path outside its
    listed prefixes, this names it (add the prefix to gateway/routes.py)."""
    descriptor = EdgeSettings().descriptor_path
    files = descriptor_pb2.FileDescriptorSet.FromString(descriptor.read_bytes())
    services = {
        f"{f.package}.{s.name}": s
        for f in files.file
        for s in f.service
        if f.package == "agentopia.v1"
    }
    routed = {route.service: route for route in SERVICE_ROUTES}
    for name, service in services.items():
        paths = _http_paths(service)
        if not paths:
            continue
        assert name in routed, f"{name} has REST mappings but no route in gateway/routes.py"
        prefixes = routed[name].rest_prefixes
        for path in paths:
            assert path.startswith(prefixes), f"{name}: {path} is outside {prefixes}"


def test_limits_are_raised_everywhere() -> None:
    settings = dataclasses.replace(EdgeSettings(console_dir=None), max_body_bytes=5 << 20)
    boot = render_bootstrap(settings)
    listener = boot["static_resources"]["listeners"][0]
    manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
    transcoder = next(f for f in manager["http_filters"] if "transcoder" in f["name"])[
        "typed_config"
    ]
    assert transcoder["max_request_body_size"] == 5 << 20
    assert listener["per_connection_buffer_limit_bytes"] > 5 << 20
    for cluster in boot["static_resources"]["clusters"]:
        assert cluster["per_connection_buffer_limit_bytes"] > 5 << 20
    assert manager["stream_idle_timeout"] == "300s"
    assert all(
        r["route"]["timeout"] == "0s"
        for r in manager["route_config"]["virtual_hosts"][0]["routes"]
        if "route" in r
    )
