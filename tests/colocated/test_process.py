"""`python -m services.colocated` as a real process: SERVING between its peers, an
in-flight stream finishes after SIGTERM and the process exits 0; a configuration
error of either hosted service, read from the environment or met while composing,
is one line and exit status 2."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import grpc
import orjson
import pytest
from agentopia.v1 import openai_compat_service_pb2_grpc as oc_grpc
from google.api import httpbody_pb2

from tests.router.peers import KeyVaultDouble, MetricsDouble
from tests.router.stack import CLIENT_KEY, peers
from tests.support.mesh import ServiceProcess, start_service
from tests.support.ports import refused_port

SAFETY_S = 60.0  # a bound on waiting for the process, never an assertion on timing
WORDS = [f"word{index}" for index in range(12)]


async def test_an_in_flight_stream_finishes_after_sigterm(tmp_path: Path) -> None:
    async with peers(KeyVaultDouble(), MetricsDouble()) as (keyvault, metrics):
        with refused_port() as nobody:
            env = {
                "AGENTOPIA_DEMO": "true",
                "AGENTOPIA_KEYVAULT_TARGET": keyvault,
                "AGENTOPIA_METRICS_TARGET": metrics,
                "AGENTOPIA_PROVIDER_TARGET": f"127.0.0.1:{nobody}",
                "AGENTOPIA_KEYVAULT_SERVICE_TOKEN": "",  # no lease: the mock needs no key
                "AGENTOPIA_HEALTH_CHECK_INTERVAL_S": "0",
                "AGENTOPIA_PROMETHEUS_PORT": "0",
            }
            process = await start_service(
                "colocated",
                "services.colocated",
                tmp_path,
                env,
                listen_var="AGENTOPIA_ROUTER_LISTEN",
            )
            try:
                text = await asyncio.wait_for(_stream_across_sigterm(process), SAFETY_S)
                assert await asyncio.wait_for(process.process.wait(), SAFETY_S) == 0
            finally:
                await process.stop(signal.SIGKILL)
    assert text.split() == WORDS
    assert "draining" in process.log.read_text()


async def _stream_across_sigterm(process: ServiceProcess) -> str:
    """Start a paced stream, send SIGTERM once its first chunk is here, read the rest."""
    body = {
        "model": "mock/echo",
        "stream": True,
        "messages": [{"role": "user", "content": "Count."}],
        "mock": {"reply": " ".join(WORDS), "chunk_words": 1, "chunk_delay_ms": 50},
    }
    async with grpc.aio.insecure_channel(process.target) as channel:
        call = oc_grpc.OpenAICompatServiceStub(channel).ChatCompletions(
            httpbody_pb2.HttpBody(content_type="application/json", data=orjson.dumps(body)),
            metadata=(("authorization", f"Bearer {CLIENT_KEY}"),),
        )
        parts: list[bytes] = []
        async for message in call:
            if not parts:
                process.process.send_signal(signal.SIGTERM)
            parts.append(message.data)
    events = [event.removeprefix(b"data: ") for event in b"".join(parts).split(b"\n\n") if event]
    assert events[-1] == b"[DONE]"
    chunks = [orjson.loads(event) for event in events[:-1]]
    return "".join(c["delta"].get("content") or "" for chunk in chunks for c in chunk["choices"])


def _exit_of(settings: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AGENTOPIA_")}
    env |= {
        "AGENTOPIA_DATA_DIR": str(tmp_path),
        "AGENTOPIA_ROUTER_LISTEN": "127.0.0.1:0",
        "AGENTOPIA_PROMETHEUS_PORT": "0",
        **settings,
    }
    return subprocess.run(
        [sys.executable, "-m", "services.colocated"],
        env=env,
        capture_output=True,
        text=True,
        timeout=SAFETY_S,
        check=False,
    )


@pytest.mark.parametrize(
    ("settings", "named", "composing"),
    [
        # read from the environment: the router's, then the provider service's
        ({"AGENTOPIA_MAX_BODY_BYTES": "lots"}, "AGENTOPIA_MAX_BODY_BYTES", False),
        ({"AGENTOPIA_UPSTREAM_DNS_TTL_S": "soon"}, "AGENTOPIA_UPSTREAM_DNS_TTL_S", False),
        # met while composing: the router's registry, the mock adapter's own settings
        ({"AGENTOPIA_MODELS_FILE": "/nonexistent/models.toml"}, "AGENTOPIA_MODELS_FILE", True),
        ({"AGENTOPIA_DEMO": "true", "AGENTOPIA_MOCK_LATENCY_MS": "x"}, "AGENTOPIA_MOCK", True),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_2(
    settings: dict[str, str], named: str, composing: bool, tmp_path: Path
) -> None:
    done = _exit_of(settings, tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if "configuration error" in line]
    assert len(errors) == 1, done.stderr
    assert errors[0].startswith("colocated: configuration error: ")
    assert named in errors[0]
    lines = done.stderr.strip().splitlines()
    # Read from the environment, the error is all there is; met while composing, it is
    # the last line (after what the provider side logged while building its adapters).
    assert (lines[-1:] if composing else lines) == errors
