"""`python -m gateway`: fails fast, validates, supervises the real binary, drains."""

from __future__ import annotations

import asyncio
import os
import pathlib
import signal
import subprocess
import sys
from collections.abc import AsyncIterator

import aiohttp
import pytest
import yaml

from gateway.envoy_config import render_bootstrap, to_yaml
from gateway.launcher import envoy_binary
from gateway.settings import EdgeSettings
from tests.gateway.stubs import CLIENT_AUTH, RouterStub, start_server
from tests.support.ports import refused_port


def gateway_env(**extra: str) -> dict[str, str]:
    """The edge on ports it picks (AGENTOPIA_EDGE_PORT_FILE, when given, says which)."""
    env = dict(os.environ)
    env.update(
        AGENTOPIA_EDGE_LISTEN="127.0.0.1:0",
        AGENTOPIA_EDGE_ADMIN_LISTEN="127.0.0.1:0",
        AGENTOPIA_EDGE_CONCURRENCY="1",
        AGENTOPIA_CONSOLE_DIR="off",
    )
    env.update(extra)
    return env


def test_the_real_binary_is_used() -> None:
    path = envoy_binary()
    assert path.parent.name == "_bin"
    assert path.read_bytes()[:4] == b"\x7fELF"  # not the Python shim


def test_missing_descriptor_fails_fast_with_a_clear_message() -> None:
    env = gateway_env(AGENTOPIA_EDGE_DESCRIPTOR="/nonexistent/agentopia.pb")
    result = subprocess.run(
        [sys.executable, "-m", "gateway"], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "/nonexistent/agentopia.pb is missing" in result.stderr
    assert "make protos" in result.stderr


def test_bad_setting_fails_fast() -> None:
    env = gateway_env(AGENTOPIA_EDGE_MAX_BODY_BYTES="lots")
    result = subprocess.run(
        [sys.executable, "-m", "gateway"], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "AGENTOPIA_EDGE_MAX_BODY_BYTES must be an integer" in result.stderr


def test_print_config_and_validate() -> None:
    env = gateway_env()
    printed = subprocess.run(
        [sys.executable, "-m", "gateway", "--print-config"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    bootstrap = yaml.safe_load(printed.stdout)
    assert bootstrap["static_resources"]["listeners"][0]["name"] == "edge"
    validated = subprocess.run(
        [sys.executable, "-m", "gateway", "--validate"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert validated.returncode == 0, validated.stderr


@pytest.fixture
async def router_port() -> AsyncIterator[tuple[int, RouterStub]]:
    router = RouterStub()
    server, port = await start_server(router)
    try:
        yield port, router
    finally:
        await server.stop(0)


async def _status(http: aiohttp.ClientSession, url: str) -> int:
    try:
        async with http.get(url) as reply:
            return reply.status
    except aiohttp.ClientError:
        return 0


async def _published_port(process: asyncio.subprocess.Process, port_file: pathlib.Path) -> int:
    while not port_file.exists():  # written once Envoy is ready; bounded by the test timeout
        assert process.returncode is None, "the edge exited during start"
        await asyncio.sleep(0.05)
    return int(port_file.read_text())


async def test_sigterm_drains_in_flight_streams_then_stops(
    router_port: tuple[int, RouterStub], tmp_path: pathlib.Path
) -> None:
    port, router = router_port
    port_file = tmp_path / "edge.port"
    env = gateway_env(
        AGENTOPIA_ROUTER_TARGET=f"127.0.0.1:{port}",
        AGENTOPIA_EDGE_DRAIN_SECONDS="60",
        AGENTOPIA_EDGE_PORT_FILE=str(port_file),
    )
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "gateway", env=env)
    try:
        edge = f"http://127.0.0.1:{await _published_port(process, port_file)}"
        async with aiohttp.ClientSession(headers=CLIENT_AUTH) as http:
            assert await _status(http, f"{edge}/healthz") == 200
            stream = await http.post(
                f"{edge}/v1/chat/completions", json={"model": "endless", "stream": True}
            )
            await router.streaming.wait()
            process.send_signal(signal.SIGTERM)
            # Draining: the edge reports unhealthy while the stream is still open...
            async with aiohttp.ClientSession() as probe:
                while (seen := await _status(probe, f"{edge}/healthz")) == 200:
                    await asyncio.sleep(0.05)
            assert seen == 503
            assert process.returncode is None
            assert not router.cancelled.is_set()
            # ...and stops as soon as the last request is done.
            stream.close()
        assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    async with aiohttp.ClientSession() as http:
        assert await _status(http, f"{edge}/healthz") == 0  # nothing listens any more


def test_prerendered_config_gets_the_console_routes(tmp_path: pathlib.Path) -> None:
    """The Helm ConfigMap's bootstrap (no console routes) + the image's console files."""
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "index.html").write_text("<!doctype html>")
    config = tmp_path / "envoy.yaml"
    config.write_text(to_yaml(render_bootstrap(EdgeSettings(console_dir=None))))
    env = gateway_env(AGENTOPIA_CONSOLE_DIR=str(tmp_path / "dist"))
    printed = subprocess.run(
        [sys.executable, "-m", "gateway", "--config", str(config), "--print-config"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    listener = yaml.safe_load(printed.stdout)["static_resources"]["listeners"][0]
    routes = listener["filter_chains"][0]["filters"][0]["typed_config"]["route_config"]
    paths = [r["match"].get("path") for r in routes["virtual_hosts"][0]["routes"]]
    assert "/index.html" in paths and "/" in paths


async def test_probe_command(router_port: tuple[int, RouterStub]) -> None:
    async def probe(target: str) -> int:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway.probe", "grpc", target
        )
        return await process.wait()

    port, _ = router_port
    assert await probe(f"127.0.0.1:{port}") == 0
    with refused_port() as nobody:
        assert await probe(f"127.0.0.1:{nobody}") == 1
