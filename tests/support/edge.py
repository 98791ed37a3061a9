"""Start the real Envoy edge in front of test servers: a helper for any test suite.

    from tests.support.edge import run_edge

    async with run_edge(router_port=router_port, keyvault_port=kv_port) as edge:
        client = openai.AsyncOpenAI(base_url=edge.openai_base_url, api_key="sk-agp-...")
        channel = grpc.aio.insecure_channel(edge.grpc_target)   # native gRPC, same port

Ports are picked free (bind to 0, release), hot restart is disabled so
several edges never clash on shared memory, the bootstrap and Envoy's output go
to a temporary directory (`edge.log_path`), and the process is always stopped.
An upstream left as `None` points at a closed port (its routes answer 503).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import pathlib
import socket
import tempfile
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from gateway.envoy_config import render_bootstrap, to_yaml
from gateway.launcher import LaunchError, check_descriptor, envoy_command
from gateway.settings import EdgeSettings, HostPort

__all__ = ["Edge", "free_port", "run_edge"]

_LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A port nobody listens on right now (bind to 0 and release)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Edge:
    """A running edge: where to reach it and where its files are."""

    port: int
    admin_port: int
    config_path: pathlib.Path
    log_path: pathlib.Path
    settings: EdgeSettings
    pid: int = 0  # the Envoy process (benchmarks pin it and read its CPU time)

    @property
    def url(self) -> str:
        return f"http://{_LOOPBACK}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def grpc_target(self) -> str:
        return f"{_LOOPBACK}:{self.port}"

    @property
    def admin_url(self) -> str:
        return f"http://{_LOOPBACK}:{self.admin_port}"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _ready(admin_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{admin_url}/ready", timeout=1.0) as reply:
            return bool(reply.status == 200)
    except (OSError, urllib.error.URLError):
        return False


async def _wait_ready(process: asyncio.subprocess.Process, edge: Edge, limit_s: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not await asyncio.to_thread(_ready, edge.admin_url):
        if process.returncode is not None:
            raise LaunchError(f"Envoy exited with {process.returncode}:\n{edge.log_text()[-4000:]}")
        if loop.time() > deadline:
            raise LaunchError(f"Envoy not ready after {limit_s}s:\n{edge.log_text()[-4000:]}")
        await asyncio.sleep(0.05)


def _upstream(port: int | None) -> HostPort:
    return HostPort(_LOOPBACK, port if port is not None else free_port())


@contextlib.asynccontextmanager
async def run_edge(
    *,
    router_port: int | None = None,
    router_replica_ports: Sequence[int] = (),
    keyvault_port: int | None = None,
    metrics_port: int | None = None,
    settings: EdgeSettings | None = None,
    concurrency: int = 1,
    log_level: str = "warning",
    startup_limit_s: float = 60.0,
) -> AsyncIterator[Edge]:
    """Run Envoy on free ports in front of 127.0.0.1 upstreams; stop it on exit.

    `settings` (optional) supplies everything else (limits, console dir, OTel);
    its addresses are replaced by the free ports and the given upstreams.
    """
    base = settings or EdgeSettings(console_dir=None)
    port, admin_port = free_port(), free_port()
    effective = dataclasses.replace(
        base,
        listen=HostPort(_LOOPBACK, port),
        admin=HostPort(_LOOPBACK, admin_port),
        router=_upstream(router_port),
        router_replicas=tuple(HostPort(_LOOPBACK, port) for port in router_replica_ports),
        keyvault=_upstream(keyvault_port),
        metrics=_upstream(metrics_port),
    )
    check_descriptor(effective)
    with tempfile.TemporaryDirectory(prefix="agentopia-edge-") as tmp:
        folder = pathlib.Path(tmp)
        edge = Edge(port, admin_port, folder / "envoy.yaml", folder / "envoy.log", effective)
        edge.config_path.write_text(to_yaml(render_bootstrap(effective)))
        command = envoy_command(
            edge.config_path, concurrency=concurrency, log_level=log_level, drain_seconds=1
        )
        with edge.log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                *command, stdout=log, stderr=asyncio.subprocess.STDOUT
            )
        try:
            await _wait_ready(process, edge, startup_limit_s)
            yield dataclasses.replace(edge, pid=process.pid)
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 10)
                except TimeoutError:
                    process.kill()
                    await process.wait()
