"""The edge's route table, as data, and its rendering into Envoy routes.

Routing happens on the gRPC path: the transcoder rewrites a REST request
(`POST /v1/chat/completions`) to its RPC path
(`/agentopia.v1.OpenAICompatService/ChatCompletions`) and Envoy re-matches the
route, so one prefix per proto service serves native gRPC and REST alike. A new
RPC on an existing service needs no change here (its `google.api.http` mapping
comes from the descriptor set); a new service needs one `ServiceRoute` line.
REST prefixes are listed so a request the transcoder did not map still lands on
the owning service (the transcoder answers 404 for unknown methods first).
"""

from __future__ import annotations

import pathlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.settings import StaticMount

__all__ = [
    "EXTRA_GRPC_ROUTES",
    "INTERNAL_METHODS",
    "SERVICE_ROUTES",
    "TRANSCODER",
    "ServiceRoute",
    "console_routes",
    "service_routes",
    "static_routes",
    "transcoded_services",
    "with_console_routes",
    "with_static_routes",
]

TRANSCODER = "envoy.filters.http.grpc_json_transcoder"
_FILTER_CONFIG = "type.googleapis.com/envoy.config.route.v3.FilterConfig"
_CONTENT_TYPES = {
    "html": "text/html; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "mjs": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "json": "application/json",
    "map": "application/json",
    "svg": "image/svg+xml",
    "png": "image/png",
    "jpg": "image/jpeg",
    "ico": "image/x-icon",
    "webp": "image/webp",
    "woff2": "font/woff2",
    "txt": "text/plain; charset=utf-8",
    "webmanifest": "application/manifest+json",
}


@dataclass(frozen=True)
class ServiceRoute:
    """One proto service and the upstream cluster that serves it."""

    service: str
    cluster: str
    rest_prefixes: tuple[str, ...] = ()
    transcode: bool = True

    @property
    def grpc_prefix(self) -> str:
        return f"/{self.service}/"


SERVICE_ROUTES: tuple[ServiceRoute, ...] = (
    ServiceRoute("agentopia.v1.OpenAICompatService", "router", ("/v1/",)),
    ServiceRoute("agentopia.v1.MessagesService", "router", ("/v1/messages",)),
    ServiceRoute("agentopia.v1.InferenceService", "router"),
    ServiceRoute("agentopia.v1.RoutingAdminService", "router", ("/agentopia/v1/routing",)),
    ServiceRoute(
        "agentopia.v1.ClientKeyService",
        "keyvault",
        ("/agentopia/v1/client-keys", "/agentopia/v1/me"),
    ),
    ServiceRoute("agentopia.v1.ProviderKeyService", "keyvault", ("/agentopia/v1/provider-keys",)),
    ServiceRoute("agentopia.v1.AuditService", "keyvault", ("/agentopia/v1/audit-events",)),
    ServiceRoute("agentopia.v1.RoutingConfigService", "keyvault"),
    ServiceRoute(
        "agentopia.v1.MetricsService",
        "metrics",
        (
            "/agentopia/v1/usage",
            "/agentopia/v1/reports",
            "/agentopia/v1/latency",
            "/agentopia/v1/overhead",
            "/agentopia/v1/live",
        ),
    ),
)

# Native-gRPC-only services reachable through the edge: the public service's
# health, and reflection for grpcurl-style tooling.
EXTRA_GRPC_ROUTES: tuple[ServiceRoute, ...] = (
    ServiceRoute("grpc.health.v1.Health", "router", transcode=False),
    ServiceRoute("grpc.reflection.v1alpha.ServerReflection", "router", transcode=False),
    ServiceRoute("grpc.reflection.v1.ServerReflection", "router", transcode=False),
)


# Mesh-internal RPCs of public services: never reachable through the edge. They
# take no caller credentials (the mesh's own network and identities guard them)
# and hand out key material or accept accounting data.
INTERNAL_METHODS: tuple[str, ...] = (
    "/agentopia.v1.ClientKeyService/WatchClientKeys",
    "/agentopia.v1.ProviderKeyService/WatchProviderKeys",
    "/agentopia.v1.ProviderKeyService/ReportKeyOutcomes",
    "/agentopia.v1.RoutingConfigService/PutRoutingConfig",
    "/agentopia.v1.RoutingConfigService/WatchRoutingConfig",
    "/agentopia.v1.MetricsService/RecordUsage",
)


def transcoded_services() -> list[str]:
    return [route.service for route in SERVICE_ROUTES if route.transcode]


def _upstream(cluster: str) -> dict[str, Any]:
    return {
        "cluster": cluster,
        # No overall deadline (generations are long): the connection manager's
        # stream idle timeout ends stuck streams; a gRPC caller's deadline
        # (grpc-timeout) is honoured.
        "timeout": "0s",
        "max_stream_duration": {"grpc_timeout_header_max": "0s"},
    }


def _without_transcoder() -> dict[str, Any]:
    return {TRANSCODER: {"@type": _FILTER_CONFIG, "disabled": True}}


def service_routes() -> list[dict[str, Any]]:
    """Internal methods refused, gRPC-path routes for every service, then the REST
    prefixes, then gRPC 404s."""
    routes: list[dict[str, Any]] = [
        {
            "match": {"path": method},
            "direct_response": {"status": 404},
            "typed_per_filter_config": _without_transcoder(),
        }
        for method in INTERNAL_METHODS
    ]
    routes += [
        {"match": {"prefix": route.grpc_prefix}, "route": _upstream(route.cluster)}
        for route in (*SERVICE_ROUTES, *EXTRA_GRPC_ROUTES)
    ]
    routes += [
        {"match": {"prefix": prefix}, "route": _upstream(route.cluster)}
        for route in SERVICE_ROUTES
        for prefix in route.rest_prefixes
    ]
    # Unknown gRPC services: Envoy turns the 404 into UNIMPLEMENTED for gRPC callers.
    routes.append(
        {
            "match": {"prefix": "/", "grpc": {}},
            "direct_response": {"status": 404},
            "typed_per_filter_config": _without_transcoder(),
        }
    )
    return routes


def _file_route(url: str, path: pathlib.Path) -> dict[str, Any]:
    suffix = path.suffix.removeprefix(".").lower()
    headers = {
        "content-type": _CONTENT_TYPES.get(suffix, "application/octet-stream"),
        # Pages and documents change with each deployment; hashed assets may be cached.
        "cache-control": "no-cache" if suffix in ("html", "json") else "public, max-age=3600",
    }
    return {
        "match": {"path": url},
        "direct_response": {"status": 200, "body": {"filename": str(path.resolve())}},
        "response_headers_to_add": [
            {"header": {"key": key, "value": value}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}
            for key, value in headers.items()
        ],
        "typed_per_filter_config": _without_transcoder(),
    }


def _mount_routes(mount: StaticMount) -> list[dict[str, Any]]:
    folder = mount.folder
    if not folder.is_dir():
        return []
    routes: list[dict[str, Any]] = []
    files = (
        [folder / name for name in mount.only]
        if mount.only is not None
        else sorted(p for p in folder.rglob("*") if p.is_file())
    )
    for path in (p for p in files if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        routes.append(_file_route(f"{mount.prefix}{relative}", path))
        if relative == "index.html":
            routes += [_file_route(url, path) for url in mount.index_urls]
    return routes


def static_routes(mounts: Sequence[StaticMount]) -> list[dict[str, Any]]:
    """One exact route per file of every mount (direct responses, loaded when Envoy
    starts; restart the edge after rebuilding), then a plain 404 for anything else."""
    routes = [route for mount in mounts for route in _mount_routes(mount)]
    routes.append(
        {
            "match": {"prefix": "/"},
            "direct_response": {"status": 404, "body": {"inline_string": "Not found\n"}},
            "typed_per_filter_config": _without_transcoder(),
        }
    )
    return routes


def console_routes(console_dir: pathlib.Path | None) -> list[dict[str, Any]]:
    """The console alone at `/` (index.html also at `/`), then the 404."""
    mounts = [StaticMount("/", console_dir, ("/",))] if console_dir is not None else []
    return static_routes(mounts)


def with_static_routes(bootstrap: dict[str, Any], mounts: Sequence[StaticMount]) -> dict[str, Any]:
    """Add the static files' routes to a pre-rendered bootstrap (the Helm ConfigMap
    cannot know which files the image carries)."""
    for listener in bootstrap["static_resources"]["listeners"]:
        for chain in listener.get("filter_chains", []):
            for network_filter in chain.get("filters", []):
                config = network_filter.get("typed_config", {})
                for host in config.get("route_config", {}).get("virtual_hosts", []):
                    if host.get("name") != "agentopia":
                        continue
                    kept = [r for r in host["routes"] if r.get("match") != {"prefix": "/"}]
                    host["routes"] = kept + static_routes(mounts)
    return bootstrap


def with_console_routes(bootstrap: dict[str, Any], console_dir: pathlib.Path) -> dict[str, Any]:
    """`with_static_routes` for the console alone."""
    return with_static_routes(bootstrap, [StaticMount("/", console_dir, ("/",))])
