"""Upstream clusters of the edge: the services (HTTP/2, h2c), the optional
OTLP collector, and the admin endpoint behind the Prometheus stats listener."""

from __future__ import annotations

import ipaddress
from typing import Any

from gateway.settings import EdgeSettings, HostPort

__all__ = ["ADMIN_CLUSTER", "OTEL_CLUSTER", "T", "address", "clusters", "stats_listener"]

T = "type.googleapis.com/"
OTEL_CLUSTER = "otel_collector"
ADMIN_CLUSTER = "envoy_admin"
STATS_PATH = "/stats/prometheus"


def address(where: HostPort) -> dict[str, Any]:
    return {"socket_address": {"address": where.host, "port_value": where.port}}


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _cluster(name: str, where: HostPort, settings: EdgeSettings, *, http2: bool) -> dict[str, Any]:
    protocol: dict[str, Any] = (
        {"http2_protocol_options": {"connection_keepalive": {"interval": "30s", "timeout": "10s"}}}
        if http2
        else {"http_protocol_options": {}}
    )
    cluster: dict[str, Any] = {
        "name": name,
        # A DNS name (a headless Service in the cluster) resolves to every pod
        # (the DNS cluster type below), so streams, not connections, are balanced.
        "type": "STATIC",
        "connect_timeout": "2s",
        "lb_policy": "ROUND_ROBIN",
        "per_connection_buffer_limit_bytes": settings.buffer_limit_bytes,
        # Long generations hold a stream each; Envoy's default of 1024 is far too low.
        "circuit_breakers": {
            "thresholds": [
                {
                    "priority": "DEFAULT",
                    "max_connections": 100_000,
                    "max_pending_requests": 100_000,
                    "max_requests": 100_000,
                    "max_retries": 3,
                }
            ]
        },
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": T + "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": protocol,
            }
        },
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": address(where)}}]}],
        },
    }
    if not _is_ip(where.host):
        del cluster["type"]
        cluster["cluster_type"] = {
            "name": "envoy.cluster.dns",
            "typed_config": {
                "@type": T + "envoy.extensions.clusters.dns.v3.DnsCluster",
                "dns_refresh_rate": f"{settings.dns_refresh_s}s",
                "respect_dns_ttl": False,
                "dns_lookup_family": "V4_PREFERRED",
            },
        }
    return cluster


def _otel_cluster(settings: EdgeSettings) -> dict[str, Any]:
    otel = settings.otel
    assert otel is not None
    cluster = _cluster(OTEL_CLUSTER, otel.endpoint, settings, http2=otel.protocol == "grpc")
    if otel.tls:
        cluster["transport_socket"] = {
            "name": "envoy.transport_sockets.tls",
            "typed_config": {
                "@type": T + "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
                "sni": otel.endpoint.host,
            },
        }
    return cluster


def _with_replicas(cluster: dict[str, Any], replicas: tuple[HostPort, ...]) -> dict[str, Any]:
    endpoints = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
    endpoints.extend({"endpoint": {"address": address(where)}} for where in replicas)
    return cluster


def clusters(settings: EdgeSettings) -> list[dict[str, Any]]:
    router = _cluster("router", settings.router, settings, http2=True)
    result = [
        _with_replicas(router, settings.router_replicas),
        _cluster("keyvault", settings.keyvault, settings, http2=True),
        _cluster("metrics", settings.metrics, settings, http2=True),
    ]
    if settings.otel is not None:
        result.append(_otel_cluster(settings))
    if settings.stats_listen is not None:
        admin_host = (
            "127.0.0.1" if settings.admin.host in ("0.0.0.0", "::") else settings.admin.host
        )
        result.append(
            _cluster(
                ADMIN_CLUSTER, HostPort(admin_host, settings.admin.port), settings, http2=False
            )
        )
    return result


def stats_listener(settings: EdgeSettings) -> dict[str, Any]:
    """A listener exposing only Envoy's Prometheus stats (never the admin API)."""
    assert settings.stats_listen is not None
    manager = {
        "@type": T
        + "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "stats",
        "route_config": {
            "virtual_hosts": [
                {
                    "name": "stats",
                    "domains": ["*"],
                    "routes": [
                        {
                            "match": {"path": "/metrics"},
                            "route": {"cluster": ADMIN_CLUSTER, "prefix_rewrite": STATS_PATH},
                        },
                        {"match": {"path": STATS_PATH}, "route": {"cluster": ADMIN_CLUSTER}},
                        {"match": {"prefix": "/"}, "direct_response": {"status": 404}},
                    ],
                }
            ]
        },
        "http_filters": [
            {
                "name": "envoy.filters.http.router",
                "typed_config": {"@type": T + "envoy.extensions.filters.http.router.v3.Router"},
            }
        ],
    }
    return {
        "name": "stats",
        "address": address(settings.stats_listen),
        "filter_chains": [
            {
                "filters": [
                    {
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": manager,
                    }
                ]
            }
        ],
    }
