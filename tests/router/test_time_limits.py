"""A deployment's two time limits through the real router and provider service: a
stream may run past its first-byte limit (only the total ends it), and a stream whose
first byte is late moves on to the next deployment."""

from __future__ import annotations

import asyncio
import pathlib
from collections.abc import AsyncIterator, Callable

import grpc
import orjson
import pytest
import pytest_asyncio
from google.api import httpbody_pb2

from services.kernel.errors import GatewayError
from tests.router.stack import CLIENT_KEY, RouterStack, router_stack

pytestmark = pytest.mark.asyncio(loop_scope="session")

MODELS = """
schema_version = 1
version = 1

[providers.mock]
timeout_s = 0.4          # first byte
total_timeout_s = 30.0

[[models]]
id = "mock/echo"
provider = "mock"
upstream_id = "echo"
capabilities = ["chat", "streaming"]
context_window = 8192
max_output_tokens = 256
auto = false
"""


@pytest_asyncio.fixture(loop_scope="session")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RouterStack]:
    models = pathlib.Path(tmp_path_factory.mktemp("limits")) / "models.toml"
    models.write_text(MODELS)
    async with router_stack({}, {"AGENTOPIA_MODELS_FILE": str(models)}) as running:
        yield running


async def _stream(stack: RouterStack, mock: dict[str, float]) -> bytes:
    body = {
        "model": "mock/echo",
        "stream": True,
        "messages": [{"role": "user", "content": "one two three four five six seven"}],
        "mock": mock,
    }
    call = stack.stub.ChatCompletions(
        httpbody_pb2.HttpBody(content_type="application/json", data=orjson.dumps(body)),
        metadata=(("authorization", f"Bearer {CLIENT_KEY}"),),
        timeout=60,
    )
    return b"".join([message.data async for message in call])


async def test_a_stream_runs_past_its_first_byte_limit(stack: RouterStack) -> None:
    # Seven chunks 150 ms apart: about a second in all, more than twice the 0.4 s
    # first-byte limit that used to bound the whole call.
    events = await _stream(stack, {"chunk_delay_ms": 150})
    assert events.endswith(b"data: [DONE]\n\n")
    assert b'"finish_reason":"stop"' in events
    await _until(lambda: any(e.stream and e.status_code == 200 for e in stack.metrics.events))


async def test_a_late_first_byte_is_a_timeout_of_the_first_byte(stack: RouterStack) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await _stream(stack, {"latency_ms": 3000})
    error = GatewayError.from_rpc_error(raised.value)
    assert (error.code, error.metadata["phase"]) == ("upstream_timeout", "first_byte")
    assert error.http_status == 504
    deployments = await stack.deployments()
    assert sum(d.window_failures for d in deployments) >= 1  # held against the deployment


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(500):  # bounded: about 10 s
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the condition never held")
