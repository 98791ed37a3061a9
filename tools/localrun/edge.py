"""The edge as one of `make run`'s programs: how it is started, when it is ready,
and where it ended up listening.

The edge publishes its bound port once Envoy is ready (AGENTOPIA_EDGE_PORT_FILE),
so `AGENTOPIA_EDGE_LISTEN=127.0.0.1:0` works too: readiness and the banner use
the port the edge reports, never a guess.
"""

from __future__ import annotations

import pathlib
import sys
from collections.abc import Mapping

from gateway.probe import Probe, http_probe
from gateway.settings import parse_host_port
from tools.localrun.supervisor import Program

__all__ = ["edge_address", "edge_port_file", "edge_program"]

_LISTEN = "AGENTOPIA_EDGE_LISTEN"


def edge_port_file(env: Mapping[str, str]) -> pathlib.Path:
    return pathlib.Path(env["AGENTOPIA_DATA_DIR"]) / "edge.port"


def edge_address(env: Mapping[str, str]) -> str | None:
    """`host:port` of the running edge (None until it has published its port)."""
    try:
        port = int(edge_port_file(env).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return f"{parse_host_port(_LISTEN, env[_LISTEN]).host}:{port}"


def _ready(env: Mapping[str, str]) -> Probe:
    def check() -> bool:
        address = edge_address(env)
        return address is not None and http_probe(f"http://{address}/healthz")()

    return check


def edge_program(env: Mapping[str, str], *, priority: int) -> Program:
    """`python -m gateway`, ready once its published port answers /healthz."""
    return Program(
        "edge",
        (sys.executable, "-m", "gateway"),
        env={
            "OTEL_SERVICE_NAME": "agentopia-edge",
            "AGENTOPIA_EDGE_PORT_FILE": str(edge_port_file(env)),
        },
        ready=_ready(env),
        priority=priority,
    )
