"""Typed settings of the Envoy edge, read once from the environment.

Every value has an embedded default that works for `make run` on one machine;
in a cluster the Helm chart renders the same settings for service DNS names.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from services.kernel.config import ConfigError, env_bool, env_float, env_int, env_str

__all__ = [
    "CONSOLE_BUILD",
    "DOCS_BUILD",
    "REPO_ROOT",
    "EdgeSettings",
    "HostPort",
    "LaunchSettings",
    "OtelSettings",
    "StaticMount",
    "console_from_env",
    "docs_from_env",
    "parse_host_port",
]

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
# Where a built console would be; served only when it holds an index.html.
CONSOLE_BUILD = REPO_ROOT / "console" / "dist"
# The API documentation site `make protos` writes (tools/openapi): Swagger UI and
# openapi.json, served at /docs/ and /openapi.json.
DOCS_BUILD = REPO_ROOT / "gen" / "docs"
DOCS_FILES = ("index.html", "openapi.json")
MIB = 1024 * 1024


@dataclass(frozen=True)
class StaticMount:
    """Files of a folder the edge answers itself (direct responses read when Envoy
    starts): `folder/a/b.js` at `prefix + "a/b.js"`, `index.html` also at each of
    `index_urls`; `only` limits the mount to the files named."""

    prefix: str
    folder: pathlib.Path
    index_urls: tuple[str, ...] = ()
    only: tuple[str, ...] | None = None


@dataclass(frozen=True)
class HostPort:
    """An address Envoy binds or connects to; `host` may be a DNS name upstream."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def parse_host_port(name: str, value: str) -> HostPort:
    """`host:port`, `[v6]:port` or `dns:///host:port` (the gRPC target form)."""
    raw = value.removeprefix("dns:///").removeprefix("ipv4:").strip()
    host, sep, port = raw.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ConfigError(f"{name} must look like host:port, got {value!r}")
    return HostPort(host, int(port))


@dataclass(frozen=True)
class OtelSettings:
    """Where Envoy exports its spans (OTLP over gRPC or HTTP)."""

    endpoint: HostPort
    protocol: str  # "grpc" or "http/protobuf"
    tls: bool
    service_name: str
    path: str = "/v1/traces"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> OtelSettings | None:
        """Tracing is on only when an OTLP endpoint is configured."""
        if env.get("OTEL_TRACES_EXPORTER", "") == "none":
            return None
        url = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get(
            "OTEL_EXPORTER_OTLP_ENDPOINT", ""
        )
        if not url:
            return None
        protocol = env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get(
            "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"
        )
        parts = urlsplit(url if "://" in url else f"http://{url}")
        tls = parts.scheme == "https"
        port = parts.port or (4317 if protocol == "grpc" else 4318)
        if not parts.hostname:
            raise ConfigError(f"OTEL_EXPORTER_OTLP_ENDPOINT has no host: {url!r}")
        path = parts.path if parts.path not in ("", "/") else "/v1/traces"
        return cls(
            endpoint=HostPort(parts.hostname, port),
            protocol="grpc" if protocol == "grpc" else "http/protobuf",
            tls=tls,
            service_name=env.get("OTEL_SERVICE_NAME", "") or "agentopia-edge",
            path=path,
        )


@dataclass(frozen=True)
class EdgeSettings:
    """Everything the bootstrap renderer needs; see `from_env` for the variables."""

    listen: HostPort = HostPort("127.0.0.1", 8080)
    admin: HostPort = HostPort("127.0.0.1", 9901)
    router: HostPort = HostPort("127.0.0.1", 50051)
    # Further router replicas at fixed addresses (tests, bare-metal); in a cluster
    # one DNS name resolving to every pod plays this part.
    router_replicas: tuple[HostPort, ...] = ()
    keyvault: HostPort = HostPort("127.0.0.1", 50053)
    metrics: HostPort = HostPort("127.0.0.1", 50054)
    descriptor_path: pathlib.Path = REPO_ROOT / "gen" / "agentopia.pb"
    # The built console's files, served at `/`; None: `/` answers 404.
    console_dir: pathlib.Path | None = None
    # Swagger UI and openapi.json (gen/docs), served at /docs/ and /openapi.json.
    docs_dir: pathlib.Path | None = None
    # A request body: chat with a few inline images fits; raise it for larger ones.
    max_body_bytes: int = 8 * MIB
    # A non-streaming response body (an embeddings answer for many inputs is large).
    max_response_bytes: int = 256 * MIB
    stream_idle_timeout_s: int = 300
    # Slow-loris: the whole request headers must arrive within this.
    request_headers_timeout_s: int = 10
    # Concurrent HTTP/2 streams per client connection.
    max_concurrent_streams: int = 128
    # The overload manager's heap budget: past 90% Envoy returns memory to the system,
    # past 92% it stops keeping connections alive, past 95% it refuses new requests
    # (503) and new connections.
    max_heap_bytes: int = 1024 * MIB
    access_log: bool = True
    otel: OtelSettings | None = None
    # Optional listener serving only Envoy's Prometheus stats (`/metrics`).
    stats_listen: HostPort | None = None
    # Upstream clusters resolve DNS names (STRICT_DNS) every this many seconds.
    dns_refresh_s: int = 5

    @property
    def buffer_limit_bytes(self) -> int:
        """Connection buffers hold one whole request plus headroom for headers."""
        return self.max_body_bytes + 1 * MIB

    def static_mounts(self) -> tuple[StaticMount, ...]:
        """What the edge serves itself besides the API: the docs, then the console at `/`."""
        mounts: list[StaticMount] = []
        if self.docs_dir is not None:
            mounts.append(StaticMount("/docs/", self.docs_dir, ("/docs", "/docs/")))
            mounts.append(StaticMount("/", self.docs_dir, only=("openapi.json",)))
        if self.console_dir is not None:
            mounts.append(StaticMount("/", self.console_dir, ("/",)))
        return tuple(mounts)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> EdgeSettings:
        """Read the AGENTOPIA_* and OTEL_* variables (defaults: `make run`)."""
        source = os.environ if env is None else env
        defaults = cls()

        def address(name: str, default: HostPort) -> HostPort:
            return parse_host_port(name, env_str(name, str(default), source))

        stats = env_str("AGENTOPIA_EDGE_STATS_LISTEN", "", source)
        admin = address("AGENTOPIA_EDGE_ADMIN_LISTEN", defaults.admin)
        if stats and admin.port == 0:
            raise ConfigError(
                "AGENTOPIA_EDGE_STATS_LISTEN proxies to the admin API, so "
                "AGENTOPIA_EDGE_ADMIN_LISTEN needs a fixed port (not 0)"
            )
        return cls(
            listen=address("AGENTOPIA_EDGE_LISTEN", defaults.listen),
            admin=admin,
            router=address("AGENTOPIA_ROUTER_TARGET", defaults.router),
            keyvault=address("AGENTOPIA_KEYVAULT_TARGET", defaults.keyvault),
            metrics=address("AGENTOPIA_METRICS_TARGET", defaults.metrics),
            descriptor_path=pathlib.Path(
                env_str("AGENTOPIA_EDGE_DESCRIPTOR", str(defaults.descriptor_path), source)
            ),
            console_dir=console_from_env(source),
            docs_dir=docs_from_env(source),
            max_body_bytes=env_int(
                "AGENTOPIA_EDGE_MAX_BODY_BYTES", defaults.max_body_bytes, source, minimum=1024
            ),
            max_response_bytes=env_int(
                "AGENTOPIA_EDGE_MAX_RESPONSE_BYTES",
                defaults.max_response_bytes,
                source,
                minimum=1024,
            ),
            stream_idle_timeout_s=env_int(
                "AGENTOPIA_EDGE_STREAM_IDLE_TIMEOUT_S",
                defaults.stream_idle_timeout_s,
                source,
                minimum=1,
            ),
            request_headers_timeout_s=env_int(
                "AGENTOPIA_EDGE_REQUEST_HEADERS_TIMEOUT_S",
                defaults.request_headers_timeout_s,
                source,
                minimum=1,
            ),
            max_concurrent_streams=env_int(
                "AGENTOPIA_EDGE_MAX_CONCURRENT_STREAMS",
                defaults.max_concurrent_streams,
                source,
                minimum=1,
            ),
            max_heap_bytes=env_int(
                "AGENTOPIA_EDGE_MAX_HEAP_BYTES", defaults.max_heap_bytes, source, minimum=64 * MIB
            ),
            access_log=env_bool("AGENTOPIA_EDGE_ACCESS_LOG", defaults.access_log, source),
            otel=OtelSettings.from_env(source),
            stats_listen=parse_host_port("AGENTOPIA_EDGE_STATS_LISTEN", stats) if stats else None,
        )


def console_from_env(env: Mapping[str, str]) -> pathlib.Path | None:
    """`AGENTOPIA_CONSOLE_DIR`: a built console (a folder with index.html), `off`, or
    unset for the repository's build when there is one."""
    raw = env_str("AGENTOPIA_CONSOLE_DIR", "", env)
    if raw == "off":
        return None
    if not raw:
        return CONSOLE_BUILD if (CONSOLE_BUILD / "index.html").is_file() else None
    folder = pathlib.Path(raw)
    if not (folder / "index.html").is_file():
        raise ConfigError(
            f"AGENTOPIA_CONSOLE_DIR={raw!r} holds no built console (no index.html); "
            "build it or set AGENTOPIA_CONSOLE_DIR=off"
        )
    return folder


def docs_from_env(env: Mapping[str, str]) -> pathlib.Path | None:
    """`AGENTOPIA_DOCS_DIR`: the API docs site (index.html and openapi.json, written by
    `make protos`), `off`, or unset for the repository's gen/docs when it is built."""
    raw = env_str("AGENTOPIA_DOCS_DIR", "", env)
    if raw == "off":
        return None
    if not raw:
        return DOCS_BUILD if all((DOCS_BUILD / f).is_file() for f in DOCS_FILES) else None
    folder = pathlib.Path(raw)
    missing = [name for name in DOCS_FILES if not (folder / name).is_file()]
    if missing:
        raise ConfigError(
            f"AGENTOPIA_DOCS_DIR={raw!r} holds no API docs (no {', '.join(missing)}); "
            "run `make protos` or set AGENTOPIA_DOCS_DIR=off"
        )
    return folder


@dataclass(frozen=True)
class LaunchSettings:
    """How the launcher runs the binary (not part of the rendered bootstrap)."""

    # Envoy worker threads (AGENTOPIA_EDGE_CONCURRENCY). One worker relays thousands of
    # requests a second, far more than the mesh behind it serves, and every worker
    # holds its own connection pools, caches and Lua state: raise it only for an
    # edge that has cores of its own to spare.
    concurrency: int = 1
    drain_seconds: float = 5.0
    log_level: str = "warning"
    config_path: pathlib.Path | None = None
    # Where to write the edge's bound port once it is ready (listen on port 0 and read it).
    port_file: pathlib.Path | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LaunchSettings:
        source = os.environ if env is None else env
        config = env_str("AGENTOPIA_EDGE_CONFIG_PATH", "", source)
        port_file = env_str("AGENTOPIA_EDGE_PORT_FILE", "", source)
        return cls(
            concurrency=env_int("AGENTOPIA_EDGE_CONCURRENCY", cls.concurrency, source, minimum=1),
            drain_seconds=env_float("AGENTOPIA_EDGE_DRAIN_SECONDS", cls.drain_seconds, source),
            log_level=env_str("AGENTOPIA_EDGE_LOG_LEVEL", cls.log_level, source),
            config_path=pathlib.Path(config) if config else None,
            port_file=pathlib.Path(port_file) if port_file else None,
        )
