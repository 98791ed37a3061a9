"""A client that leaves early: the upstream attempt is cancelled, the deployment's
balancer lease is given back (no phantom outstanding requests), and the usage
event says 499 client_closed_request rather than success."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import orjson
import pytest
import pytest_asyncio
from google.api import httpbody_pb2

from tests.router.stack import CLIENT_KEY, RouterStack, router_stack

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def stack() -> AsyncIterator[RouterStack]:
    async with router_stack({}) as running:
        yield running


async def _until(predicate: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(500):  # bounded: up to ~10 s
        if await predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never: {what}")


async def _in_flight(stack: RouterStack) -> bool:
    return any(d.outstanding for d in await stack.deployments())


async def _idle(stack: RouterStack) -> bool:
    return not await _in_flight(stack)


@pytest.mark.parametrize("stream", [False, True])
async def test_leaving_before_the_first_byte_releases_everything(
    stack: RouterStack, stream: bool
) -> None:
    before = len(stack.metrics.events)
    body = {
        "model": "mock/echo",
        "stream": stream,
        "messages": [{"role": "user", "content": "take your time"}],
        "mock": {"latency_ms": 5000},
    }
    call = stack.stub.ChatCompletions(
        httpbody_pb2.HttpBody(content_type="application/json", data=orjson.dumps(body)),
        metadata=(("authorization", f"Bearer {CLIENT_KEY}"),),
    )
    reading = asyncio.ensure_future(call.read())
    await _until(lambda: _in_flight(stack), "the attempt is in flight")
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading

    async def recorded() -> bool:
        return len(stack.metrics.events) > before

    await _until(recorded, "the usage event")
    await _until(lambda: _idle(stack), "leases released")
    event = stack.metrics.events[-1]
    assert (event.status_code, event.error_code) == (499, "client_closed_request")
