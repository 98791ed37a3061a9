"""Start the real mesh — each service its own OS process on ports it picks — for
end-to-end tests and benchmarks. Ports are learned from AGENTOPIA_PORT_FILE (and
Prometheus ports, when asked for, from AGENTOPIA_PROMETHEUS_PORT_FILE), so nothing
is fixed, nothing is guessed, and parallel runs cannot collide. The development
switch AGENTOPIA_DEMO is on, as in `make run`.

Either topology (`AGENTOPIA_TOPOLOGY`, docs/topologies.md): `split` starts the
router and the provider service as two processes; `colocated` starts one
`python -m services.colocated` process, which is `mesh.services["router"]` and also
hosts the provider service (`mesh.process("provider")` and `mesh.target("provider")`
resolve to it; `mesh.services` has no "provider" then)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import sys
from collections.abc import AsyncIterator, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from services.colocated.topology import COLOCATED, SPLIT, topology_from_env
from services.kernel.channels import wait_until_serving
from tests.support.relay import unix_relay

__all__ = ["ADMIN_KEY", "Mesh", "ServiceProcess", "run_mesh", "start_service"]

ADMIN_KEY = "sk-agp-e2e-admin-key-0123456789abcdefghijklmnopqrstu"
_START_TIMEOUT_S = 90.0
_ROUTER_MODULE = {SPLIT: "services.router", COLOCATED: "services.colocated"}
_ROUTER_LISTEN = "AGENTOPIA_ROUTER_LISTEN"


@dataclass
class ServiceProcess:
    name: str
    process: asyncio.subprocess.Process
    port: int
    log: Path
    prometheus_port: int = 0  # when started with `prometheus=True`

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

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
    # Every process of the mesh, by name (colocated: no "provider", see the docstring).
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    admin_key: str = ADMIN_KEY
    # What the router was started with: reuse it to start more router replicas.
    router_env: dict[str, str] = field(default_factory=dict)
    topology: str = SPLIT

    @property
    def router_module(self) -> str:
        """What a router replica runs (`services.colocated` in the colocated topology)."""
        return _ROUTER_MODULE[self.topology]

    def process(self, name: str) -> ServiceProcess:
        """The process hosting service `name` (colocated: the router's hosts the provider)."""
        return self.services[_host_of(self.topology, name)]

    @property
    def provider_process(self) -> ServiceProcess:
        return self.process("provider")

    def target(self, name: str) -> str:
        return self.process(name).target

    def prometheus_url(self, name: str) -> str:
        """The /metrics of a service started with Prometheus on (`run_mesh(prometheus=...)`)."""
        port = self.process(name).prometheus_port
        assert port, f"{name} was started without Prometheus exposition"
        return f"http://127.0.0.1:{port}/metrics"

    async def start_router(self, name: str) -> ServiceProcess:
        """One more router replica (in the colocated topology, one more colocated
        process) with the router's environment; in `services`, stopped with the mesh."""
        service = await start_service(
            name, self.router_module, self.workdir, self.router_env, listen_var=_ROUTER_LISTEN
        )
        self.services[name] = service
        return service


async def start_service(
    name: str,
    module: str,
    workdir: Path,
    env: Mapping[str, str],
    *,
    listen_var: str,
    prometheus: bool = False,
) -> ServiceProcess:
    """Start `python -m module` on a port it picks; return once it is SERVING.
    With `prometheus`, its /metrics is on too (a port it picks: `prometheus_port`)."""
    port_file = workdir / f"{name}.port"
    prometheus_file = workdir / f"{name}.prometheus.port"
    for stale in (port_file, prometheus_file):
        stale.unlink(missing_ok=True)
    log = workdir / f"{name}.log"
    child_env = {
        **os.environ,
        **env,
        listen_var: "127.0.0.1:0",
        "AGENTOPIA_PORT_FILE": str(port_file),
    }
    if prometheus:
        child_env["AGENTOPIA_PROMETHEUS_PORT"] = "any"
        child_env["AGENTOPIA_PROMETHEUS_PORT_FILE"] = str(prometheus_file)
    with log.open("ab") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", module, env=child_env, stdout=sink, stderr=sink, cwd=os.getcwd()
        )
    service = ServiceProcess(name=name, process=process, port=0, log=log)
    try:
        await asyncio.wait_for(_await_serving(service, port_file), _START_TIMEOUT_S)
        if prometheus:
            service.prometheus_port = await asyncio.wait_for(
                _await_port(service, prometheus_file), _START_TIMEOUT_S
            )
    except (TimeoutError, RuntimeError) as error:
        await service.stop(signal.SIGKILL)
        raise RuntimeError(
            f"{name} did not become SERVING ({error}):\n{service.log_tail()}"
        ) from None
    return service


async def _await_port(service: ServiceProcess, port_file: Path) -> int:
    while not port_file.exists():
        if service.process.returncode is not None:
            raise RuntimeError(f"exited with status {service.process.returncode}")
        await asyncio.sleep(0.05)
    return int(port_file.read_text())


async def _await_serving(service: ServiceProcess, port_file: Path) -> None:
    service.port = await _await_port(service, port_file)
    async with grpc.aio.insecure_channel(service.target) as channel:
        await wait_until_serving(channel, interval_s=0.05)


@contextlib.asynccontextmanager
async def run_mesh(
    workdir: Path,
    env: Mapping[str, str] | None = None,
    *,
    service_env: Mapping[str, Mapping[str, str]] | None = None,
    prometheus: Collection[str] = (),
    topology: str | None = None,
) -> AsyncIterator[Mesh]:
    """Key vault, metrics, provider, then the router (each one's address feeds the next).
    `env` goes to every service; `service_env[name]` to that one only; the services
    named in `prometheus` also serve /metrics (`mesh.prometheus_url(name)`).
    `topology` defaults to AGENTOPIA_TOPOLOGY in `env`, then in this process's
    environment, then `split`; in `colocated`, the provider's and the router's
    `service_env` both go to the one colocated process."""
    chosen = topology or topology_from_env({**os.environ, **(env or {})})
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "data").mkdir(exist_ok=True)
    base = {
        "AGENTOPIA_DATA_DIR": str(workdir / "data"),
        "AGENTOPIA_ADMIN_KEY": ADMIN_KEY,
        # One per mesh, like `make run`: the provider service leases provider keys with it.
        "AGENTOPIA_KEYVAULT_SERVICE_TOKEN": secrets.token_urlsafe(32),
        "AGENTOPIA_PROMETHEUS_PORT": "0",
        "AGENTOPIA_LOG_LEVEL": "INFO",
        "AGENTOPIA_DEMO": "true",
        # Active probes would interleave with tests' own upstream traffic; tests that
        # exercise them turn them on.
        "AGENTOPIA_HEALTH_CHECK_INTERVAL_S": "0",
        **(env or {}),
    }
    extra = service_env or {}
    mesh = Mesh(workdir=workdir, topology=chosen)
    exposed = {_host_of(chosen, name) for name in prometheus}

    async def start(name: str, module: str, common: Mapping[str, str]) -> ServiceProcess:
        service = await start_service(
            name,
            module,
            workdir,
            {**common, **extra.get(name, {})},
            listen_var=f"AGENTOPIA_{name.upper()}_LISTEN",
            prometheus=name in exposed,
        )
        mesh.services[name] = service
        return service

    with unix_relay("provider") as to_provider:
        try:
            # The key vault first: the others follow its pushes. It calls the provider
            # service only to validate keys, through a relay connected once the
            # provider has reported its port.
            await start(
                "keyvault", "keyvault", {**base, "AGENTOPIA_PROVIDER_TARGET": to_provider.target}
            )
            followers = {**base, "AGENTOPIA_KEYVAULT_TARGET": mesh.target("keyvault")}
            await start("metrics", "metrics", followers)
            # The provider reports its leased keys' health to the metrics service.
            peers = {**followers, "AGENTOPIA_METRICS_TARGET": mesh.target("metrics")}
            if chosen == COLOCATED:
                mesh.router_env = {**peers, **extra.get("provider", {}), **extra.get("router", {})}
                hosting = await start("router", mesh.router_module, mesh.router_env)
                to_provider.forward_to(hosting.port)
            else:
                provider = await start("provider", "services.provider", peers)
                to_provider.forward_to(provider.port)
                mesh.router_env = {
                    **peers,
                    "AGENTOPIA_PROVIDER_TARGET": mesh.target("provider"),
                    **extra.get("router", {}),
                }
                await start("router", mesh.router_module, mesh.router_env)
            yield mesh
        finally:
            await asyncio.gather(*(service.stop() for service in mesh.services.values()))


def _host_of(topology: str, service: str) -> str:
    """The name in `Mesh.services` of the process that hosts `service`."""
    return "router" if topology == COLOCATED and service == "provider" else service
