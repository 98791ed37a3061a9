"""Prometheus exposition for every Agentopia service: the /metrics HTTP server and
the bucket boundaries the GenAI conventions advise.

    from services.kernel.exposition import start_exposition_from_env
    exposition = start_exposition_from_env(default_port=9101)
    ...
    if exposition is not None:
        exposition.close()

`AGENTOPIA_PROMETHEUS_PORT` is the port: `0` turns exposition off, `any` lets the
system pick a free one. When `AGENTOPIA_PROMETHEUS_PORT_FILE` is set, the bound
port is written there (how tests and supervisors learn a port picked by `any`,
with no window in which another process could take it).

Each service owns its instruments (`services.router.instruments`,
`services.provider.instruments`, `metrics.instruments`, `metrics.client.instruments`);
only the server and the shared constants live here. Names follow the
OpenTelemetry GenAI semantic conventions mapped to Prometheus (dots become
underscores, the unit `s` becomes the `_seconds` suffix); gateway-specific series
are `agentopia_*`. Labels never carry secrets: keys by id only.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import start_wsgi_server

from services.kernel.config import ConfigError, env_str

__all__ = [
    "DURATION_BUCKETS",
    "OVERHEAD_BUCKETS",
    "TOKEN_BUCKETS",
    "TTFT_BUCKETS",
    "Exposition",
    "ExpositionSettings",
    "start_exposition",
    "start_exposition_from_env",
    "start_settings",
]

# The GenAI conventions' advisory boundaries: tokens in powers of 4 ...
TOKEN_BUCKETS = tuple(4**power for power in range(14))
# ... operation durations doubling from 10 ms ...
DURATION_BUCKETS = tuple(round(0.01 * 2**power, 2) for power in range(14))
# ... and time to first token, dense below a second.
TTFT_BUCKETS = (
    0.001,
    0.005,
    0.01,
    0.02,
    0.04,
    0.06,
    0.08,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)
# What the gateway itself adds: sub-millisecond to a second.
OVERHEAD_BUCKETS = (0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)

PORT_VAR = "AGENTOPIA_PROMETHEUS_PORT"
_ANY_PORT = "any"
_MAX_PORT = 65535


@dataclass
class Exposition:
    """A running /metrics HTTP server (a daemon thread)."""

    port: int
    _server: WSGIServer
    _thread: threading.Thread

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@dataclass(frozen=True, slots=True)
class ExpositionSettings:
    """Where /metrics listens: `port` None is off, 0 is any free port."""

    port: int | None
    addr: str = "127.0.0.1"
    port_file: str = ""

    @classmethod
    def from_env(
        cls, default_port: int, env: Mapping[str, str] | None = None
    ) -> ExpositionSettings:
        """`AGENTOPIA_PROMETHEUS_PORT` (0 off, `any`), `AGENTOPIA_PROMETHEUS_ADDR` (default
        127.0.0.1; 0.0.0.0 in a pod so Prometheus can scrape it) and
        `AGENTOPIA_PROMETHEUS_PORT_FILE`."""
        source = os.environ if env is None else env
        return cls(
            port=_port(source.get(PORT_VAR, "").strip(), default_port),
            addr=env_str("AGENTOPIA_PROMETHEUS_ADDR", "127.0.0.1", source),
            port_file=env_str("AGENTOPIA_PROMETHEUS_PORT_FILE", "", source),
        )


def _port(raw: str, default_port: int) -> int | None:
    if raw == "":
        return default_port or None
    if raw.lower() == _ANY_PORT:
        return 0
    try:
        port = int(raw)
    except ValueError:
        raise ConfigError(f"{PORT_VAR} must be a port, 0 (off) or any, got {raw!r}") from None
    if not 0 <= port <= _MAX_PORT:
        raise ConfigError(f"{PORT_VAR} must be between 0 and {_MAX_PORT}, got {port}")
    return port or None


def start_exposition(
    port: int, *, addr: str = "127.0.0.1", registry: CollectorRegistry = REGISTRY
) -> Exposition:
    """Serve `registry` at http://addr:port/metrics; port 0 picks a free port."""
    server, thread = start_wsgi_server(port, addr=addr, registry=registry)
    return Exposition(port=int(server.server_port), _server=server, _thread=thread)


def start_settings(
    settings: ExpositionSettings, *, registry: CollectorRegistry = REGISTRY
) -> Exposition | None:
    """Start what `settings` ask for (nothing when off) and publish the bound port."""
    if settings.port is None:
        return None
    exposition = start_exposition(settings.port, addr=settings.addr, registry=registry)
    if settings.port_file:
        _publish(settings.port_file, exposition.port)
    return exposition


def start_exposition_from_env(
    default_port: int,
    *,
    env: Mapping[str, str] | None = None,
    registry: CollectorRegistry = REGISTRY,
) -> Exposition | None:
    """Read `ExpositionSettings` from the environment and start them (None when off)."""
    return start_settings(ExpositionSettings.from_env(default_port, env), registry=registry)


def _publish(path: str, port: int) -> None:
    # Written whole and renamed, so a reader never sees a half-written number.
    staging = f"{path}.tmp"
    with open(staging, "w", encoding="ascii") as handle:
        handle.write(str(port))
    os.replace(staging, path)
