"""The real mesh behind the real edge with the built console at `/`: what the
browser tests drive. `python -m tests.console.stack` runs it until Ctrl-C and
prints its URL (for working on the console against a live gateway)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import pathlib
import signal
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass

from gateway.settings import CONSOLE_BUILD, EdgeSettings
from tests.support.edge import run_edge
from tests.support.mesh import Mesh, run_mesh

__all__ = ["ConsoleStack", "console_edge", "run_console_stack"]


@dataclass(frozen=True)
class ConsoleStack:
    url: str  # http://127.0.0.1:<port>, the console at `/`
    mesh: Mesh

    @property
    def admin_key(self) -> str:
        return self.mesh.admin_key


@contextlib.asynccontextmanager
async def run_console_stack(
    workdir: pathlib.Path, console_dir: pathlib.Path = CONSOLE_BUILD
) -> AsyncIterator[ConsoleStack]:
    """Mesh (demo providers on) plus an edge serving `console_dir`."""
    if not (console_dir / "index.html").is_file():
        raise RuntimeError(f"{console_dir} holds no built console: run `make console`")
    async with run_mesh(workdir) as mesh, console_edge(mesh, console_dir) as url:
        yield ConsoleStack(url=url, mesh=mesh)


@contextlib.asynccontextmanager
async def console_edge(
    mesh: Mesh, console_dir: pathlib.Path = CONSOLE_BUILD, *, without: str = ""
) -> AsyncIterator[str]:
    """An edge serving the console in front of `mesh`; its URL. `without` names a
    service ("metrics", "keyvault") the edge finds nobody listening for, as when
    that service is down."""
    settings = dataclasses.replace(EdgeSettings(), console_dir=console_dir)
    ports = {name: mesh.services[name].port for name in ("router", "keyvault", "metrics")}
    async with run_edge(
        router_port=ports["router"],
        keyvault_port=None if without == "keyvault" else ports["keyvault"],
        metrics_port=None if without == "metrics" else ports["metrics"],
        settings=settings,
    ) as edge:
        yield edge.url


async def _serve() -> None:
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    with tempfile.TemporaryDirectory(prefix="agentopia-console-") as tmp:
        async with run_console_stack(pathlib.Path(tmp)) as stack:
            print(f"console {stack.url}/  admin key {stack.admin_key}", flush=True)
            await stop.wait()


if __name__ == "__main__":
    asyncio.run(_serve())
