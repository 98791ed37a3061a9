"""`python -m tools.localrun.run` (`make run`): the whole mesh on one machine.

Starts key vault, metrics, provider, router and the Envoy edge as separate
processes under supervisord (see tools/localrun/supervisor.py for why supervisord)
— or, with AGENTOPIA_TOPOLOGY=colocated, one `python -m services.colocated` process
in place of the provider and the router (on the router's address and Prometheus
port; the key vault then validates provider keys through it; docs/topologies.md) —
with embedded defaults: SQLite files and the key-encryption key under
AGENTOPIA_DATA_DIR (./var), the development switch AGENTOPIA_DEMO=true (the
fault-injecting `mock` provider and the demo models; the images and the Helm
chart leave it off) plus any provider whose key is in the environment (provider
and OTEL_* variables pass through untouched). Waits until every service's grpc.health.v1 Check says
SERVING and the edge answers, then prints the URL, the admin key and examples.
Ctrl-C or SIGTERM stops everything; a service that fails to start is reported
with the tail of its log.

The admin key is AGENTOPIA_ADMIN_KEY when set; otherwise one is generated on
the first run (`sk-agp-` + 43 url-safe characters) and kept in
<data>/admin-key (mode 0600) so it stays valid across runs.

The mesh service token (AGENTOPIA_KEYVAULT_SERVICE_TOKEN: what the provider service
presents to lease provider keys from the key vault) is the caller's when set,
otherwise a new one per run, never written to disk. It reaches the key vault and the
provider service through the environment; on one machine every program runs as the
same user, so scoping it further would add nothing (the Helm chart does scope it).

Workload identities (tools/localrun/identities.py): every service gets a new token
per run and every internal RPC is checked against the peer table, as in the chart.
"""

from __future__ import annotations

import os
import pathlib
import secrets
import signal
import sys
import threading
from collections.abc import Mapping

from gateway.probe import grpc_probe, http_probe
from gateway.settings import REPO_ROOT, console_from_env, docs_from_env
from services.colocated.topology import COLOCATED, TOPOLOGY_VAR, topology_from_env
from services.kernel.config import ConfigError
from tools.localrun.banner import banner, first_model
from tools.localrun.edge import edge_address, edge_port_file, edge_program
from tools.localrun.identities import with_identities
from tools.localrun.supervisor import Program, StartFailure, Supervisor

__all__ = [
    "SERVICE_TOKEN_VAR",
    "admin_key",
    "grpc_probe",
    "http_probe",
    "main",
    "mesh_env",
    "mesh_programs",
]

# service -> (listen variable, default address, Prometheus port, module)
SERVICES: dict[str, tuple[str, str, str, str]] = {
    "keyvault": ("AGENTOPIA_KEYVAULT_LISTEN", "127.0.0.1:50053", "9103", "keyvault"),
    "metrics": ("AGENTOPIA_METRICS_LISTEN", "127.0.0.1:50054", "9104", "metrics"),
    "provider": ("AGENTOPIA_PROVIDER_LISTEN", "127.0.0.1:50052", "9102", "services.provider"),
    "router": ("AGENTOPIA_ROUTER_LISTEN", "127.0.0.1:50051", "9101", "services.router"),
}
# The colocated topology: one process in the router's place hosts the provider service too.
_COLOCATED = ("AGENTOPIA_ROUTER_LISTEN", "127.0.0.1:50051", "9101", "services.colocated")
_HOSTED = ("provider", "router")
_PRIORITY = {
    "keyvault": 10,
    "metrics": 10,
    "provider": 20,
    "router": 30,
    "colocated": 30,
    "edge": 40,
}
SERVICE_TOKEN_VAR = "AGENTOPIA_KEYVAULT_SERVICE_TOKEN"  # noqa: S105 - a variable name


def admin_key(env: Mapping[str, str], data_dir: pathlib.Path) -> tuple[str, str]:
    """(key, where it came from): the environment, the kept file, or new."""
    if env.get("AGENTOPIA_ADMIN_KEY"):
        return env["AGENTOPIA_ADMIN_KEY"], "from AGENTOPIA_ADMIN_KEY"
    path = data_dir / "admin-key"
    if path.exists():
        return path.read_text().strip(), f"kept in {path}"
    key = "sk-agp-" + secrets.token_urlsafe(32)
    data_dir.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(key + "\n")
    return key, f"generated, kept in {path}"


def mesh_env(environ: Mapping[str, str]) -> tuple[dict[str, str], str]:
    """The environment every program inherits (the caller's, plus defaults),
    and where the admin key came from. Raises ConfigError for a bad AGENTOPIA_TOPOLOGY."""
    env = dict(environ)
    env[TOPOLOGY_VAR] = topology_from_env(env)
    data = pathlib.Path(env.get("AGENTOPIA_DATA_DIR") or REPO_ROOT / "var").resolve()
    defaults = {
        "AGENTOPIA_DATA_DIR": str(data),
        "AGENTOPIA_KEYVAULT_DATABASE_URL": f"sqlite:///{data / 'keyvault.db'}",
        "AGENTOPIA_METRICS_DATABASE_URL": f"sqlite:///{data / 'metrics.db'}",
        "AGENTOPIA_KEK_FILE": str(data / "kek.key"),
        "AGENTOPIA_EDGE_LISTEN": "127.0.0.1:8080",
        "AGENTOPIA_EDGE_ADMIN_LISTEN": "127.0.0.1:9901",
        "AGENTOPIA_EDGE_DRAIN_SECONDS": "1",
        "AGENTOPIA_DEMO": "true",
        "PYTHONUNBUFFERED": "1",
    }
    for listen_var, default, _, _ in SERVICES.values():
        defaults[listen_var] = default
    for key, value in defaults.items():
        env.setdefault(key, value)
    for name, (listen_var, _, _, _) in SERVICES.items():
        env.setdefault(f"AGENTOPIA_{name.upper()}_TARGET", env[listen_var])
    if env[TOPOLOGY_VAR] == COLOCATED:  # the provider service is the router's process
        env["AGENTOPIA_PROVIDER_TARGET"] = env["AGENTOPIA_ROUTER_TARGET"]
    env["AGENTOPIA_ADMIN_KEY"], note = admin_key(env, data)
    if not env.get(SERVICE_TOKEN_VAR):
        env[SERVICE_TOKEN_VAR] = secrets.token_urlsafe(32)  # one per run
    with_identities(env)
    return env, note


def _services(topology: str) -> dict[str, tuple[str, str, str, str]]:
    if topology != COLOCATED:
        return SERVICES
    kept = {name: spec for name, spec in SERVICES.items() if name not in _HOSTED}
    return {**kept, "colocated": _COLOCATED}


def mesh_programs(env: Mapping[str, str]) -> list[Program]:
    """The supervised programs of the topology AGENTOPIA_TOPOLOGY names, edge last."""
    python = sys.executable
    programs = [
        Program(
            name,
            (python, "-m", module),
            env={
                "AGENTOPIA_PROMETHEUS_PORT": prometheus,
                "OTEL_SERVICE_NAME": f"agentopia-{name}",
                "AGENTOPIA_IDENTITY_NAME": name,
            },
            ready=grpc_probe(env[listen_var]),
            priority=_PRIORITY[name],
        )
        for name, (listen_var, _, prometheus, module) in _services(topology_from_env(env)).items()
    ]
    programs.append(edge_program(env, priority=_PRIORITY["edge"]))
    return programs


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _watch(supervisor: Supervisor, stop: threading.Event) -> None:
    """After start: report programs that die (supervisord restarts them)."""
    reported: set[tuple[str, int]] = set()
    while not stop.wait(1.0):
        failure = supervisor.failed()
        if failure is None:
            continue
        pid = int(supervisor.states()[failure.program].get("pid") or 0)
        if (failure.program, pid) not in reported:
            reported.add((failure.program, pid))
            _say(f"\n!! {failure}\n{failure.log_tail}\n")


def run(
    env: dict[str, str], programs: list[Program], *, start_limit_s: float, key_note: str = ""
) -> int:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    log_dir = pathlib.Path(env["AGENTOPIA_DATA_DIR"]) / "log"
    edge_port_file(env).unlink(missing_ok=True)  # a previous run's port is no answer
    supervisor = Supervisor(programs, log_dir=log_dir, env=env)
    names = ", ".join(p.name for p in programs)
    _say(f"Starting {names} (logs in {log_dir}) ...")
    try:
        with supervisor.running():
            if not supervisor.wait_ready(limit_s=start_limit_s, stop=stop):
                return 130
            edge = edge_address(env) or env["AGENTOPIA_EDGE_LISTEN"]
            key = env["AGENTOPIA_ADMIN_KEY"]
            model = first_model(f"http://{edge}/v1", key)
            text = banner(
                edge=edge,
                key=key,
                key_note=key_note,
                model=model,
                logs=str(log_dir),
                console_dir=console_from_env(env),
                docs_dir=docs_from_env(env),
                topology=topology_from_env(env),
            )
            _say(text)
            _watch(supervisor, stop)
            _say("Stopping ...")
        _say("Stopped.")
        return 0
    except StartFailure as failure:
        _say(f"\nFailed to start: {failure}\n--- last lines of {failure.program}'s log ---")
        _say(failure.log_tail or "(empty)")
        return 1


def main() -> int:
    try:
        env, note = mesh_env(os.environ)
    except ConfigError as error:
        _say(f"make run: configuration error: {error}")
        return 2
    descriptor = pathlib.Path(
        env.get("AGENTOPIA_EDGE_DESCRIPTOR") or REPO_ROOT / "gen/agentopia.pb"
    )
    if not descriptor.is_file():
        _say(f"The descriptor set {descriptor} is missing: run `make protos` first.")
        return 2
    limit = float(env.get("AGENTOPIA_RUN_START_TIMEOUT_S") or 120)
    return run(env, mesh_programs(env), start_limit_s=limit, key_note=note)


if __name__ == "__main__":
    sys.exit(main())
