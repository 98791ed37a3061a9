"""`python -m services.provider` as a real process: binds, serves, drains on SIGTERM;
a configuration error, read from the environment or met while composing, is one
line and exit status 2."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import grpc
import orjson
import pytest
from agentopia.v1 import provider_service_pb2, provider_service_pb2_grpc

from services.kernel.channels import wait_until_serving

SAFETY_S = 60.0


async def test_the_service_process(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    env = {
        **{k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")},
        "AGENTOPIA_PROVIDER_LISTEN": "127.0.0.1:0",
        "AGENTOPIA_PORT_FILE": str(port_file),
        "AGENTOPIA_PROMETHEUS_PORT": "0",
        "AGENTOPIA_DEMO": "true",
        "AGENTOPIA_MOCK_REPLY": "from the process",
        "OTEL_TRACES_EXPORTER": "none",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.provider",
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:

        async def port() -> int:
            while not port_file.exists():
                assert process.returncode is None, "the service exited early"
                await asyncio.sleep(0.05)
            return int(port_file.read_text())

        bound = await asyncio.wait_for(port(), SAFETY_S)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{bound}") as channel:
            await asyncio.wait_for(wait_until_serving(channel, interval_s=0.05), SAFETY_S)
            stub = provider_service_pb2_grpc.ProviderServiceStub(channel)
            listed = await stub.ListProviders(provider_service_pb2.ListProvidersRequest())
            configured = {p.name for p in listed.providers if p.configured}
            assert "mock" in configured
            invocation = provider_service_pb2.Invocation(
                operation=provider_service_pb2.OPERATION_CHAT_COMPLETIONS,
                request_json=b'{"messages":[{"role":"user","content":"hi"}]}',
                provider="mock",
                upstream_model="mock/x",
            )
            reply = await stub.Generate(provider_service_pb2.GenerateRequest(invocation=invocation))
            body = orjson.loads(reply.response_json)
            assert body["choices"][0]["message"]["content"] == "from the process"
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), SAFETY_S) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _exit_of(settings: dict[str, str]) -> tuple[int | None, list[bytes]]:
    env = {
        **os.environ,
        "AGENTOPIA_PROVIDER_LISTEN": "127.0.0.1:0",
        "AGENTOPIA_PROMETHEUS_PORT": "0",
        **settings,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.provider",
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(process.communicate(), SAFETY_S)
    return process.returncode, stderr.strip().splitlines()


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        # read from the environment
        ({"AGENTOPIA_PROVIDER_GRACE_S": "soon"}, b"AGENTOPIA_PROVIDER_GRACE_S"),
        ({"AGENTOPIA_DEMO": "perhaps"}, b"AGENTOPIA_DEMO"),
        # met while composing: the mock adapter reads its own settings
        ({"AGENTOPIA_DEMO": "true", "AGENTOPIA_MOCK_LATENCY_MS": "slow"}, b"AGENTOPIA_MOCK"),
    ],
)
async def test_a_bad_setting_exits_with_one_clear_line(
    settings: dict[str, str], named: bytes
) -> None:
    code, lines = await _exit_of(settings)
    assert code == 2
    assert len(lines) == 1, lines
    assert lines[0].startswith(b"provider: configuration error: ")
    assert named in lines[0]
