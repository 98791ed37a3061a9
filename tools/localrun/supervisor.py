"""Run a set of programs under supervisord and watch them come up.

Why supervisord: it is the well-kept, widely deployed process supervisor of
the Python world (installed as the `supervisor` package, so `make run` needs no
extra tool), it already does the hard parts — one process group per program,
`stopasgroup`/`killasgroup` so no grandchild survives, ordered start
(`priority`) and reverse-ordered stop, per-program logs with rotation — and it
exposes program states over XML-RPC, which is how we detect a service that
failed to start and show the tail of its log. Running it in the foreground
(`-n`) as our child, in its own session and with a parent-death signal, means
Ctrl-C stops everything and a killed `make run` leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pathlib
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import xmlrpc.client
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from supervisor.xmlrpc import SupervisorTransport

from gateway.probe import Probe

__all__ = ["Probe", "Program", "StartFailure", "Supervisor"]

_FAILED = {"FATAL", "EXITED", "BACKOFF", "STOPPED", "UNKNOWN"}
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Program:
    """One supervised command; `ready` says when it serves (None: when running)."""

    name: str
    command: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    ready: Probe | None = None
    priority: int = 100
    stop_wait_s: int = 20


class StartFailure(RuntimeError):
    """A program died or never became ready; carries the tail of its log."""

    def __init__(self, program: str, reason: str, log_tail: str) -> None:
        super().__init__(f"{program}: {reason}")
        self.program = program
        self.reason = reason
        self.log_tail = log_tail


def _quote_env(env: Mapping[str, str]) -> str:
    def quote(value: str) -> str:
        return '"' + value.replace("%", "%%").replace("\\", "\\\\").replace('"', '\\"') + '"'

    return ",".join(f"{key}={quote(value)}" for key, value in env.items())


def _die_with_parent() -> None:  # pragma: no cover (runs in the child)
    """Linux: supervisord gets SIGTERM if we die, even by SIGKILL."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Supervisor:
    """supervisord in the foreground as our child, driven over its unix socket."""

    def __init__(
        self, programs: Sequence[Program], *, log_dir: pathlib.Path, env: Mapping[str, str]
    ) -> None:
        self.programs = {program.name: program for program in programs}
        self.log_dir = log_dir
        self.env = dict(env)
        # Created by start(): the config, pid file and control socket (a short path,
        # as unix socket paths are limited to ~100 bytes).
        self._runtime = pathlib.Path(tempfile.gettempdir())
        self._process: subprocess.Popen[bytes] | None = None
        self._pids: set[int] = set()

    @property
    def _socket(self) -> pathlib.Path:
        return self._runtime / "supervisor.sock"

    def log_path(self, name: str) -> pathlib.Path:
        return self.log_dir / f"{name}.log"

    def config_text(self) -> str:
        lines = [
            "[supervisord]",
            "nodaemon=true",
            f"logfile={self.log_dir / 'supervisord.log'}",
            f"pidfile={self._runtime / 'supervisord.pid'}",
            f"childlogdir={self.log_dir}",
            "loglevel=warn",
            "[unix_http_server]",
            f"file={self._socket}",
            "chmod=0700",
            "[rpcinterface:supervisor]",
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        ]
        for program in self.programs.values():
            lines += [
                f"[program:{program.name}]",
                f"command={shlex.join(program.command).replace('%', '%%')}",
                f"priority={program.priority}",
                "autostart=true",
                "autorestart=unexpected",
                "startsecs=1",
                "startretries=0",
                "stopsignal=TERM",
                f"stopwaitsecs={program.stop_wait_s}",
                "stopasgroup=true",
                "killasgroup=true",
                "redirect_stderr=true",
                f"stdout_logfile={self.log_path(program.name)}",
                "stdout_logfile_maxbytes=20MB",
                "stdout_logfile_backups=2",
            ]
            if program.env:
                lines.append(f"environment={_quote_env(program.env)}")
        return "\n".join(lines) + "\n"

    def _call(self, method: str) -> Any:
        """One XML-RPC call over the unix socket (connection closed after)."""
        transport = SupervisorTransport(None, None, f"unix://{self._socket}")
        with xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport) as proxy:
            return getattr(proxy.supervisor, method)()

    def start(self, *, limit_s: float = 30.0) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._runtime = pathlib.Path(tempfile.mkdtemp(prefix="agentopia-sv-"))
        config = self._runtime / "supervisord.conf"
        config.write_text(self.config_text())
        with (self.log_dir / "supervisord.err").open("ab") as errors:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "supervisor.supervisord", "-n", "-c", str(config)],
                env=self.env,
                start_new_session=True,  # Ctrl-C reaches us only; we stop it in order
                preexec_fn=_die_with_parent,  # noqa: PLW1509
                stdout=subprocess.DEVNULL,
                stderr=errors,
            )
        deadline = time.monotonic() + limit_s
        while True:
            with contextlib.suppress(OSError, xmlrpc.client.Error):
                if self._call("getState")["statename"] == "RUNNING":
                    return
            if self._process.poll() is not None or time.monotonic() > deadline:
                err = (self.log_dir / "supervisord.err").read_text(errors="replace")
                raise StartFailure("supervisord", "did not start", err[-4000:])
            time.sleep(0.1)

    def states(self) -> dict[str, dict[str, Any]]:
        infos: list[dict[str, Any]] = self._call("getAllProcessInfo")
        for info in infos:
            if info.get("pid"):
                self._pids.add(int(info["pid"]))
        return {info["name"]: info for info in infos}

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.log_path(name)
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def failed(self) -> StartFailure | None:
        """The first program that is not running, if any."""
        for name, info in self.states().items():
            if info["statename"] in _FAILED:
                reason = str(info["statename"])
                if info["statename"] == "EXITED":
                    reason += f" (exit status {info.get('exitstatus')})"
                if info.get("spawnerr"):
                    reason += f": {info['spawnerr']}"
                return StartFailure(name, reason, self.log_tail(name))
        return None

    def wait_ready(self, *, limit_s: float, stop: threading.Event) -> bool:
        """Until every program runs and passes its probe. False when `stop` is set."""
        deadline = time.monotonic() + limit_s
        pending = dict(self.programs)
        while pending:
            failure = self.failed()
            if failure is not None:
                raise failure
            states = self.states()
            for name, program in list(pending.items()):
                running = states.get(name, {}).get("statename") == "RUNNING"
                if running and (program.ready is None or program.ready()):
                    del pending[name]
            if not pending:
                return True
            if time.monotonic() > deadline:
                name = next(iter(pending))
                raise StartFailure(name, f"not ready after {limit_s:.0f}s", self.log_tail(name))
            if stop.wait(0.25):
                return False
        return True

    def stop(self, *, limit_s: float = 60.0) -> None:
        """SIGTERM supervisord (it stops programs in reverse order), then make sure."""
        try:
            self._stop(limit_s)
        finally:
            if self._runtime.name.startswith("agentopia-sv-"):
                shutil.rmtree(self._runtime, ignore_errors=True)

    def _stop(self, limit_s: float) -> None:
        process = self._process
        if process is None:
            return
        with contextlib.suppress(OSError, xmlrpc.client.Error):
            self.states()  # remember the latest pids
        self._process = None
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=limit_s)
                return
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        # supervisord died or hung: each program led its own process group.
        for pid in self._pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)

    @contextlib.contextmanager
    def running(self) -> Iterator[Supervisor]:
        try:
            self.start()
            yield self
        finally:
            self.stop()
