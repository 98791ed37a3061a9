"""Start the real mesh — each service its own OS process on free ports — for
end-to-end tests and benchmarks. Ports are learned from AGENTOPIA_PORT_FILE, so
nothing is fixed and parallel runs cannot collide."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from services.kernel.channels import wait_until_serving
from tests.support.edge import free_port

__all__ = ["ADMIN_KEY", "Mesh", "ServiceProcess", "run_mesh", "start_service"]

ADMIN_KEY = "sk-agp-e2e-admin-key-0123456789abcdefghijklmnopqrstu"
_START_TIMEOUT_S = 90.0


@dataclass
class ServiceProcess:
    name: str
    process: asyncio.subprocess.Process
    port: int
    log: Path

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    async def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 20.0) -> int:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(sig)
            try:
                await asyncio.wait_for(self.process.wait(), timeout_s)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        return self.process.returncode or 0


@dataclass
class Mesh:
    workdir: Path
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    admin_key: str = ADMIN_KEY
    # What the router was started with: reuse it to start more router replicas.
    router_env: dict[str, str] = field(default_factory=dict)

    def target(self, name: str) -> str:
        return f"127.0.0.1:{self.services[name].port}"


async def start_service(
    name: str,
    module: str,
    workdir: Path,
    env: Mapping[str, str],
    *,
    listen_var: str,
    port: int = 0,
) -> ServiceProcess:
    """Start `python -m module` on `port` (0: any free one); return once it is SERVING."""
    port_file = workdir / f"{name}.port"
    port_file.unlink(missing_ok=True)
    log = workdir / f"{name}.log"
    child_env = {
        **os.environ,
        **env,
        listen_var: f"127.0.0.1:{port}",
        "AGENTOPIA_PORT_FILE": str(port_file),
    }
    with log.open("ab") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", module, env=child_env, stdout=sink, stderr=sink, cwd=os.getcwd()
        )
    service = ServiceProcess(name=name, process=process, port=0, log=log)
    try:
        await asyncio.wait_for(_await_serving(service, port_file), _START_TIMEOUT_S)
    except (TimeoutError, RuntimeError) as error:
        await service.stop(signal.SIGKILL)
        raise RuntimeError(
            f"{name} did not become SERVING ({error}):\n{service.log_tail()}"
        ) from None
    return service


async def _await_serving(service: ServiceProcess, port_file: Path) -> None:
    while not port_file.exists():
        if service.process.returncode is not None:
            raise RuntimeError(f"exited with status {service.process.returncode}")
        await asyncio.sleep(0.05)
    service.port = int(port_file.read_text())
    async with grpc.aio.insecure_channel(f"127.0.0.1:{service.port}") as channel:
        await wait_until_serving(channel, interval_s=0.05)


@contextlib.asynccontextmanager
async def run_mesh(
    workdir: Path,
    env: Mapping[str, str] | None = None,
    *,
    service_env: Mapping[str, Mapping[str, str]] | None = None,
) -> AsyncIterator[Mesh]:
    """Key vault, metrics and provider first (their ports feed the router), then the router.
    `env` goes to every service; `service_env[name]` to that one only."""
    workdir.mkdir(parents=True, exist_ok=True)
    base = {
        "AGENTOPIA_DATA_DIR": str(workdir / "data"),
        "AGENTOPIA_ADMIN_KEY": ADMIN_KEY,
        # One per mesh, like `make run`: the provider service leases provider keys with it.
        "AGENTOPIA_KEYVAULT_SERVICE_TOKEN": secrets.token_urlsafe(32),
        "AGENTOPIA_PROMETHEUS_PORT": "0",
        "AGENTOPIA_LOG_LEVEL": "INFO",
        # Active probes would interleave with tests' own upstream traffic; tests that
        # exercise them turn them on.
        "AGENTOPIA_HEALTH_CHECK_INTERVAL_S": "0",
        **(env or {}),
    }
    (workdir / "data").mkdir(exist_ok=True)
    extra = service_env or {}

    def env_of(name: str, common: Mapping[str, str]) -> dict[str, str]:
        return {**common, **extra.get(name, {})}

    mesh = Mesh(workdir=workdir)
    try:
        # The key vault first: the others follow its pushes. It calls the provider
        # service only to validate keys, so a port picked ahead for the provider
        # breaks the circle.
        provider_port, metrics_port = free_port(), free_port()
        keyvault_env = {**base, "AGENTOPIA_PROVIDER_TARGET": f"127.0.0.1:{provider_port}"}
        mesh.services["keyvault"] = await start_service(
            "keyvault",
            "keyvault",
            workdir,
            env_of("keyvault", keyvault_env),
            listen_var="AGENTOPIA_KEYVAULT_LISTEN",
        )
        followers = {
            **base,
            "AGENTOPIA_KEYVAULT_TARGET": mesh.target("keyvault"),
            # The provider reports its leased keys' health to the metrics service.
            "AGENTOPIA_METRICS_TARGET": f"127.0.0.1:{metrics_port}",
        }
        second = await asyncio.gather(
            start_service(
                "metrics",
                "metrics",
                workdir,
                env_of("metrics", followers),
                listen_var="AGENTOPIA_METRICS_LISTEN",
                port=metrics_port,
            ),
            start_service(
                "provider",
                "services.provider",
                workdir,
                env_of("provider", followers),
                listen_var="AGENTOPIA_PROVIDER_LISTEN",
                port=provider_port,
            ),
        )
        for service in second:
            mesh.services[service.name] = service
        router_env = {
            **base,
            "AGENTOPIA_KEYVAULT_TARGET": mesh.target("keyvault"),
            "AGENTOPIA_METRICS_TARGET": mesh.target("metrics"),
            "AGENTOPIA_PROVIDER_TARGET": mesh.target("provider"),
        }
        mesh.router_env = env_of("router", router_env)
        mesh.services["router"] = await start_service(
            "router",
            "services.router",
            workdir,
            mesh.router_env,
            listen_var="AGENTOPIA_ROUTER_LISTEN",
        )
        yield mesh
    finally:
        await asyncio.gather(*(service.stop() for service in mesh.services.values()))
