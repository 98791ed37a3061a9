"""`make run`'s supervisor: start, readiness, failure reports, nothing left behind."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
import re
import signal
import stat
import sys
import threading
from collections.abc import AsyncIterator

import pytest

from gateway.settings import REPO_ROOT
from tests.gateway.fake_mesh import port_file_probe
from tests.gateway.stubs import RouterStub, start_server
from tools.localrun.banner import banner
from tools.localrun.run import SERVICE_TOKEN_VAR, mesh_env, mesh_programs
from tools.localrun.supervisor import Program, StartFailure, Supervisor

PYTHON = sys.executable


def alive(pid: int) -> bool:
    try:
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def fake(
    name: str, folder: pathlib.Path, pidfile: pathlib.Path | None = None, priority: int = 10
) -> Program:
    """A health-only service on a port it picks, ready once it answers there."""
    port_file = folder / f"{name}.port"
    command = [PYTHON, "-m", "tests.gateway.fake_service", "127.0.0.1:0", str(port_file)]
    if pidfile is not None:
        command.append(str(pidfile))
    return Program(name, command, ready=port_file_probe(port_file), priority=priority)


def supervisor(tmp_path: pathlib.Path, programs: list[Program]) -> Supervisor:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    return Supervisor(programs, log_dir=tmp_path / "log", env=env)


def test_programs_start_become_ready_and_stop_without_leftovers(tmp_path: pathlib.Path) -> None:
    grandchild = tmp_path / "grandchild.pid"
    programs = [
        fake("alpha", tmp_path),
        fake("beta", tmp_path, grandchild, priority=20),
    ]
    sup = supervisor(tmp_path, programs)
    with sup.running():
        assert sup.wait_ready(limit_s=60, stop=threading.Event())
        states = sup.states()
        assert {name: info["statename"] for name, info in states.items()} == {
            "alpha": "RUNNING",
            "beta": "RUNNING",
        }
        pids = [int(info["pid"]) for info in states.values()] + [int(grandchild.read_text())]
        assert all(alive(pid) for pid in pids)
    assert not [pid for pid in pids if alive(pid)]


def test_a_failing_program_is_reported_with_its_log_tail(tmp_path: pathlib.Path) -> None:
    broken = Program(
        "broken",
        [PYTHON, "-c", "print('cannot bind 127.0.0.1:1: permission denied'); raise SystemExit(3)"],
    )
    sup = supervisor(tmp_path, [fake("alpha", tmp_path), broken])
    with sup.running(), pytest.raises(StartFailure) as failure:
        sup.wait_ready(limit_s=60, stop=threading.Event())
    assert failure.value.program == "broken"
    assert failure.value.reason.startswith(("FATAL", "BACKOFF", "EXITED"))
    assert "cannot bind 127.0.0.1:1" in failure.value.log_tail


def test_a_program_that_never_gets_ready_is_reported(tmp_path: pathlib.Path) -> None:
    never = Program(
        "never",
        [PYTHON, "-c", "import time; print('waiting for a peer'); time.sleep(3600)"],
        ready=lambda: False,
    )
    sup = supervisor(tmp_path, [never])
    with sup.running(), pytest.raises(StartFailure, match="not ready after") as failure:
        sup.wait_ready(limit_s=1, stop=threading.Event())
    assert "waiting for a peer" in failure.value.log_tail


def test_stop_request_interrupts_the_wait(tmp_path: pathlib.Path) -> None:
    stop = threading.Event()
    stop.set()
    sup = supervisor(
        tmp_path,
        [Program("idle", [PYTHON, "-c", "import time; time.sleep(3600)"], ready=lambda: False)],
    )
    with sup.running():
        assert sup.wait_ready(limit_s=60, stop=stop) is False


def test_mesh_env_defaults_and_admin_key(tmp_path: pathlib.Path) -> None:
    env, note = mesh_env({"AGENTOPIA_DATA_DIR": str(tmp_path), "OPENAI_API_KEY": "sk-upstream"})
    key = env["AGENTOPIA_ADMIN_KEY"]
    assert re.fullmatch(r"sk-agp-[A-Za-z0-9_-]{43}", key)
    assert note.startswith("generated")
    kept = tmp_path / "admin-key"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert env["OPENAI_API_KEY"] == "sk-upstream"
    assert env["AGENTOPIA_KEYVAULT_DATABASE_URL"] == f"sqlite:///{tmp_path}/keyvault.db"
    assert env["AGENTOPIA_METRICS_DATABASE_URL"] == f"sqlite:///{tmp_path}/metrics.db"
    assert env["AGENTOPIA_KEK_FILE"] == f"{tmp_path}/kek.key"
    assert env["AGENTOPIA_ROUTER_LISTEN"] == env["AGENTOPIA_ROUTER_TARGET"] == "127.0.0.1:50051"
    assert env["AGENTOPIA_PROVIDER_TARGET"] == "127.0.0.1:50052"
    assert env["AGENTOPIA_KEYVAULT_TARGET"] == "127.0.0.1:50053"
    assert env["AGENTOPIA_METRICS_TARGET"] == "127.0.0.1:50054"
    assert env["AGENTOPIA_DEMO"] == "true"  # make run is development: the demo models are on
    again, note = mesh_env({"AGENTOPIA_DATA_DIR": str(tmp_path)})
    assert again["AGENTOPIA_ADMIN_KEY"] == key and note.startswith("kept")
    chosen, note = mesh_env(
        {"AGENTOPIA_DATA_DIR": str(tmp_path), "AGENTOPIA_ADMIN_KEY": "sk-agp-mine"}
    )
    assert chosen["AGENTOPIA_ADMIN_KEY"] == "sk-agp-mine" and "AGENTOPIA_ADMIN_KEY" in note


def test_mesh_env_service_token_is_new_per_run_unless_set(tmp_path: pathlib.Path) -> None:
    first, _ = mesh_env({"AGENTOPIA_DATA_DIR": str(tmp_path)})
    second, _ = mesh_env({"AGENTOPIA_DATA_DIR": str(tmp_path)})
    token = first[SERVICE_TOKEN_VAR]
    assert len(token) >= 43 and token != second[SERVICE_TOKEN_VAR]
    assert token not in "".join(p.read_text() for p in tmp_path.rglob("*") if p.is_file())
    given, _ = mesh_env({"AGENTOPIA_DATA_DIR": str(tmp_path), SERVICE_TOKEN_VAR: "svc-mine"})
    assert given[SERVICE_TOKEN_VAR] == "svc-mine"


def test_mesh_programs(tmp_path: pathlib.Path) -> None:
    env, _ = mesh_env({"AGENTOPIA_DATA_DIR": str(tmp_path)})
    programs = {p.name: p for p in mesh_programs(env)}
    assert {name: p.command[1:] for name, p in programs.items()} == {
        "keyvault": ("-m", "keyvault"),
        "metrics": ("-m", "metrics"),
        "provider": ("-m", "services.provider"),
        "router": ("-m", "services.router"),
        "edge": ("-m", "gateway"),
    }
    assert programs["edge"].priority > programs["router"].priority > programs["keyvault"].priority
    assert programs["router"].env["AGENTOPIA_PROMETHEUS_PORT"] == "9101"
    assert all(p.ready is not None for p in programs.values())


@contextlib.asynccontextmanager
async def start_run(
    tmp_path: pathlib.Path, **extra: str
) -> AsyncIterator[tuple[asyncio.subprocess.Process, pathlib.Path]]:
    """`run()` with the edge on ports it picks, in front of a router served here."""
    server, router_port = await start_server(RouterStub())
    data = tmp_path / "var"
    env = dict(
        os.environ,
        PYTHONPATH=str(REPO_ROOT),
        AGENTOPIA_DATA_DIR=str(data),
        AGENTOPIA_ROUTER_TARGET=f"127.0.0.1:{router_port}",
        AGENTOPIA_EDGE_LISTEN="127.0.0.1:0",
        AGENTOPIA_EDGE_ADMIN_LISTEN="127.0.0.1:0",
        AGENTOPIA_EDGE_CONCURRENCY="1",
        AGENTOPIA_CONSOLE_DIR="off",
        **extra,
    )
    process = await asyncio.create_subprocess_exec(
        PYTHON,
        "-m",
        "tests.gateway.fake_mesh",
        env=env,
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        yield process, data
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await server.stop(0)


async def test_run_prints_the_banner_and_stops_cleanly_on_ctrl_c(tmp_path: pathlib.Path) -> None:
    async with start_run(tmp_path) as (process, data):
        assert process.stdout is not None
        lines: list[str] = []
        while not lines or "Native gRPC" not in lines[-1]:
            line = (await process.stdout.readline()).decode()
            assert line, "".join(lines)
            lines.append(line)
        text = "".join(lines)
        edge = f"127.0.0.1:{(data / 'edge.port').read_text()}"  # where the edge reported it is
        assert f"OpenAI base URL  http://{edge}/v1" in text
        assert re.search(r"Admin key        sk-agp-[A-Za-z0-9_-]{43}", text)
        assert "curl -sN" in text and "from openai import OpenAI" in text
        assert "Console" not in text  # no built console, none announced
        process.send_signal(signal.SIGINT)
        rest = (await process.stdout.read()).decode()
        assert await process.wait() == 0
    assert "Stopped." in rest
    log_dir = data / "log"
    assert (log_dir / "edge.log").exists() and (log_dir / "helper.log").exists()


async def test_run_reports_a_failed_service_and_exits_1(tmp_path: pathlib.Path) -> None:
    async with start_run(tmp_path, BREAK="1") as (process, _):
        out, _ = await process.communicate()
    text = out.decode()
    assert process.returncode == 1
    assert "Failed to start: broken" in text
    assert "no database" in text


def test_the_banner_announces_the_console_only_when_it_is_built(tmp_path: pathlib.Path) -> None:
    def text(console_dir: pathlib.Path | None) -> str:
        return banner(
            edge="127.0.0.1:8080",
            key="sk-agp-k",
            key_note="new",
            model="mock/echo",
            logs="var/log",
            console_dir=console_dir,
        )

    assert "Console" not in text(None)
    assert "Console" not in text(tmp_path)  # a folder without a build
    (tmp_path / "index.html").write_text("<!doctype html>")
    assert "Console          http://127.0.0.1:8080/" in text(tmp_path)
