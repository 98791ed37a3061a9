"""Start the real Envoy edge in front of test servers: a helper for any test suite.

    from tests.support.edge import run_edge

    async with run_edge(router_port=router_port, keyvault_port=kv_port) as edge:
        client = openai.AsyncOpenAI(base_url=edge.openai_base_url, api_key="sk-agp-...")
        channel = grpc.aio.insecure_channel(edge.grpc_target)   # native gRPC, same port

Envoy listens on port 0 and reports where it is (its admin address file, then
its admin `/listeners`), hot restart is disabled so several edges never clash on
shared memory, the bootstrap and Envoy's output go to a temporary directory
(`edge.log_path`), and the process is always stopped. An upstream left as `None`
points at a port held closed for the edge's lifetime (its routes answer 503).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import pathlib
import tempfile
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from gateway.envoy_config import render_bootstrap, to_yaml
from gateway.launcher import LaunchError, check_descriptor, envoy_command
from gateway.ports import EDGE_LISTENER, admin_address_flag, listener_ports, read_admin_address
from gateway.settings import EdgeSettings, HostPort
from tests.support.ports import LOOPBACK as _LOOPBACK
from tests.support.ports import refused_port

__all__ = ["Edge", "run_edge"]


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


async def _wait_ready(
    process: asyncio.subprocess.Process, edge: Edge, admin_file: pathlib.Path, limit_s: float
) -> Edge:
    """Wait until Envoy is ready; the edge with the ports Envoy reports."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while True:
        if process.returncode is not None:
            raise LaunchError(f"Envoy exited with {process.returncode}:\n{edge.log_text()[-4000:]}")
        if loop.time() > deadline:
            raise LaunchError(f"Envoy not ready after {limit_s}s:\n{edge.log_text()[-4000:]}")
        admin = read_admin_address(admin_file)
        if admin is not None and await asyncio.to_thread(_ready, f"http://{admin}"):
            ports = await asyncio.to_thread(listener_ports, admin)
            if EDGE_LISTENER in ports:
                return dataclasses.replace(
                    edge, port=ports[EDGE_LISTENER], admin_port=admin.port, pid=process.pid
                )
        await asyncio.sleep(0.05)


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
    """Run Envoy on ports it picks, in front of 127.0.0.1 upstreams; stop it on exit.

    `settings` (optional) supplies everything else (limits, console dir, OTel);
    its addresses are replaced by port 0 and the given upstreams. (A stats
    listener, which needs a fixed admin port, is dropped.)
    """
    base = settings or EdgeSettings()
    with (
        contextlib.ExitStack() as closed,
        tempfile.TemporaryDirectory(prefix="agentopia-edge-") as tmp,
    ):

        def upstream(port: int | None) -> HostPort:
            return HostPort(
                _LOOPBACK, port if port is not None else closed.enter_context(refused_port())
            )

        effective = dataclasses.replace(
            base,
            listen=HostPort(_LOOPBACK, 0),
            admin=HostPort(_LOOPBACK, 0),
            router=upstream(router_port),
            router_replicas=tuple(HostPort(_LOOPBACK, port) for port in router_replica_ports),
            keyvault=upstream(keyvault_port),
            metrics=upstream(metrics_port),
            stats_listen=None,
        )
        check_descriptor(effective)
        folder = pathlib.Path(tmp)
        edge = Edge(0, 0, folder / "envoy.yaml", folder / "envoy.log", effective)
        edge.config_path.write_text(to_yaml(render_bootstrap(effective)))
        admin_file = folder / "admin.address"
        command = envoy_command(
            edge.config_path,
            concurrency=concurrency,
            log_level=log_level,
            drain_seconds=1,
            extra=admin_address_flag(admin_file),
        )
        with edge.log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                *command, stdout=log, stderr=asyncio.subprocess.STDOUT
            )
        try:
            yield await _wait_ready(process, edge, admin_file, startup_limit_s)
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 10)
                except TimeoutError:
                    process.kill()
                    await process.wait()
