"""Render the Envoy bootstrap for the Agentopia edge from typed settings.

One listener serves REST (grpc_json_transcoder over the descriptor set) and
native gRPC (h2c, prior knowledge) on the same port. HTTP filter order on the
request path (gateway/filters.py says what each does): header_to_metadata →
header_mutation (REST only) → lua (REST errors only) → health_check →
grpc_json_transcoder → router. Responses run the other way, so the Lua filter
sees every error reply after the transcoder has converted it, including the
local replies (404/413/503) of every filter after it; `edge_filter.lua` holds
the error contract with the services.

`python -m gateway.envoy_config` prints the bootstrap for the current environment.
"""

from __future__ import annotations

import importlib.resources
import sys
from typing import Any

import yaml

from gateway.clusters import T, address, clusters, stats_listener
from gateway.filters import (
    EDGE_METADATA,
    ERROR_HEADER,
    HTTP_STATUS_HEADER,
    error_filter,
    header_metadata,
    rest_header_hygiene,
)
from gateway.guards import key_guard_routes
from gateway.routes import TRANSCODER, service_routes, static_routes, transcoded_services
from gateway.settings import EdgeSettings, OtelSettings

__all__ = [
    "ERROR_HEADER",
    "HEALTH_PATH",
    "HTTP_STATUS_HEADER",
    "lua_source",
    "render_bootstrap",
    "to_yaml",
]

HEALTH_PATH = "/healthz"

_HCM = T + "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
_MAX_STATIC_FILE_BYTES = 16 * 1024 * 1024

_ACCESS_LOG_FORMAT = {
    "time": "%START_TIME%",
    "service": "edge",
    "method": "%REQ(:METHOD)%",
    "path": f"%DYNAMIC_METADATA({EDGE_METADATA}:path)%",
    "rpc": "%REQ(:PATH)%",
    "protocol": "%PROTOCOL%",
    "status": "%RESPONSE_CODE%",
    "grpc_status": "%GRPC_STATUS_NUMBER%",
    "flags": "%RESPONSE_FLAGS%",
    "details": "%RESPONSE_CODE_DETAILS%",
    "bytes_in": "%BYTES_RECEIVED%",
    "bytes_out": "%BYTES_SENT%",
    "duration_ms": "%DURATION%",
    "ttfb_ms": "%RESPONSE_DURATION%",
    "upstream": "%UPSTREAM_CLUSTER%",
    "upstream_host": "%UPSTREAM_HOST%",
    "request_id": "%REQ(X-REQUEST-ID)%",
    "traceparent": "%REQ(TRACEPARENT)%",
    "user_agent": "%REQ(USER-AGENT)%",
    "client": "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%",
}


def lua_source(settings: EdgeSettings) -> str:
    text = importlib.resources.files("gateway").joinpath("edge_filter.lua").read_text()
    return text.replace("__MAX_BODY_BYTES__", str(settings.max_body_bytes))


def _transcoder(settings: EdgeSettings) -> dict[str, Any]:
    return {
        "name": TRANSCODER,
        "typed_config": {
            "@type": T + "envoy.extensions.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder",
            "proto_descriptor": str(settings.descriptor_path),
            "services": transcoded_services(),
            "print_options": {
                "add_whitespace": False,
                "always_print_primitive_fields": True,
                "always_print_enums_as_ints": False,
                "preserve_proto_field_names": True,
                "stream_sse_style_delimited": True,
            },
            "convert_grpc_status": True,
            "ignore_unknown_query_parameters": True,
            "query_param_unescape_plus": True,
            # The SDK sends `models.retrieve("mock/echo")` as /v1/models/mock%2Fecho.
            "url_unescape_spec": "ALL_CHARACTERS",
            "request_validation_options": {"reject_unknown_method": True},
            "max_request_body_size": settings.max_body_bytes,
            "max_response_body_size": settings.max_response_bytes,
        },
    }


def _http_filters(settings: EdgeSettings) -> list[dict[str, Any]]:
    return [
        header_metadata(),
        rest_header_hygiene(),
        error_filter(lua_source(settings)),
        {
            # The edge's own health: 200, or 503 once draining (launcher's SIGTERM).
            "name": "envoy.filters.http.health_check",
            "typed_config": {
                "@type": T + "envoy.extensions.filters.http.health_check.v3.HealthCheck",
                "pass_through_mode": False,
                "headers": [{"name": ":path", "string_match": {"exact": HEALTH_PATH}}],
            },
        },
        _transcoder(settings),
        {
            "name": "envoy.filters.http.router",
            "typed_config": {
                "@type": T + "envoy.extensions.filters.http.router.v3.Router",
                "suppress_envoy_headers": True,
            },
        },
    ]


def _access_log() -> list[dict[str, Any]]:
    return [
        {
            "name": "envoy.access_loggers.stdout",
            "typed_config": {
                "@type": T + "envoy.extensions.access_loggers.stream.v3.StdoutAccessLog",
                "log_format": {"json_format": _ACCESS_LOG_FORMAT, "omit_empty_values": True},
            },
        }
    ]


def _tracing(otel: OtelSettings) -> dict[str, Any]:
    config: dict[str, Any] = {
        "@type": T + "envoy.config.trace.v3.OpenTelemetryConfig",
        "service_name": otel.service_name,
    }
    if otel.protocol == "grpc":
        config["grpc_service"] = {"envoy_grpc": {"cluster_name": "otel_collector"}, "timeout": "2s"}
    else:
        scheme = "https" if otel.tls else "http"
        config["http_service"] = {
            "http_uri": {
                "uri": f"{scheme}://{otel.endpoint}{otel.path}",
                "cluster": "otel_collector",
                "timeout": "2s",
            }
        }
    return {
        "provider": {"name": "envoy.tracers.opentelemetry", "typed_config": config},
        "random_sampling": {"value": 100},
    }


def _connection_manager(settings: EdgeSettings) -> dict[str, Any]:
    manager: dict[str, Any] = {
        "@type": _HCM,
        "stat_prefix": "edge",
        "codec_type": "AUTO",  # HTTP/1.1 and h2c (prior knowledge) on one port
        "server_name": "agentopia",
        "use_remote_address": True,
        "preserve_external_request_id": True,
        "always_set_request_id_in_response": True,
        "request_timeout": "0s",
        "stream_idle_timeout": f"{settings.stream_idle_timeout_s}s",
        # Headers must arrive in time, however slowly a client trickles them: a
        # slow-loris client would otherwise keep resetting the idle timer.
        "request_headers_timeout": f"{settings.request_headers_timeout_s}s",
        "common_http_protocol_options": {"max_headers_count": 100},
        "http2_protocol_options": {
            "max_concurrent_streams": settings.max_concurrent_streams,
            "initial_stream_window_size": 1 * 1024 * 1024,
            "initial_connection_window_size": 4 * 1024 * 1024,
        },
        "route_config": {
            "name": "agentopia",
            "max_direct_response_body_size_bytes": _MAX_STATIC_FILE_BYTES,
            "virtual_hosts": [
                {
                    "name": "agentopia",
                    "domains": ["*"],
                    "routes": (
                        key_guard_routes()
                        + service_routes()
                        + static_routes(settings.static_mounts())
                    ),
                }
            ],
        },
        "http_filters": _http_filters(settings),
    }
    if settings.access_log:
        manager["access_log"] = _access_log()
    if settings.otel is not None:
        manager["tracing"] = _tracing(settings.otel)
    return manager


def _edge_listener(settings: EdgeSettings) -> dict[str, Any]:
    return {
        "name": "edge",
        "address": address(settings.listen),
        "per_connection_buffer_limit_bytes": settings.buffer_limit_bytes,
        "filter_chains": [
            {
                "filters": [
                    {
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": _connection_manager(settings),
                    }
                ]
            }
        ],
    }


def render_bootstrap(settings: EdgeSettings) -> dict[str, Any]:
    """The complete Envoy bootstrap as a plain dict (YAML/JSON-serialisable)."""
    listeners = [_edge_listener(settings)]
    if settings.stats_listen is not None:
        listeners.append(stats_listener(settings))
    return {
        "node": {"id": "agentopia-edge", "cluster": "agentopia-edge"},
        "admin": {"address": address(settings.admin)},
        "static_resources": {"listeners": listeners, "clusters": clusters(settings)},
        "overload_manager": _overload_manager(settings),
    }


_HEAP = "envoy.resource_monitors.fixed_heap"


def _on_heap(name: str, threshold: float) -> dict[str, Any]:
    return {"name": name, "triggers": [{"name": _HEAP, "threshold": {"value": threshold}}]}


def _overload_manager(settings: EdgeSettings) -> dict[str, Any]:
    """Memory-based load shedding, so that a burst of large requests degrades into
    503s instead of the edge being killed for its memory."""
    return {
        "refresh_interval": "0.25s",
        "resource_monitors": [
            {
                "name": "envoy.resource_monitors.global_downstream_max_connections",
                "typed_config": {
                    "@type": T + "envoy.extensions.resource_monitors.downstream_connections"
                    ".v3.DownstreamConnectionsConfig",
                    "max_active_downstream_connections": 50_000,
                },
            },
            {
                "name": _HEAP,
                "typed_config": {
                    "@type": T + "envoy.extensions.resource_monitors.fixed_heap.v3.FixedHeapConfig",
                    "max_heap_size_bytes": settings.max_heap_bytes,
                },
            },
        ],
        "actions": [
            _on_heap("envoy.overload_actions.shrink_heap", 0.90),
            _on_heap("envoy.overload_actions.disable_http_keepalive", 0.92),
            _on_heap("envoy.overload_actions.stop_accepting_requests", 0.95),
        ],
        "loadshed_points": [_on_heap("envoy.load_shed_points.tcp_listener_accept", 0.95)],
    }


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the Lua source) as literal blocks, for readability."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def to_yaml(bootstrap: dict[str, Any]) -> str:
    return yaml.dump(bootstrap, Dumper=_Dumper, sort_keys=False, width=100)


def main() -> int:
    print(to_yaml(render_bootstrap(EdgeSettings.from_env())), end="")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
