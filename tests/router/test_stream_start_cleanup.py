"""A stream the client leaves between its opening and the relay of the rest — the
servicer's generator suspended at a `yield` and never resumed — is cleaned up when
the RPC ends, not whenever the abandoned generator is collected: the upstream call
is cancelled, the balancer lease and the reservation are given back, and the usage
event is recorded (499, with what was consumed)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest
import pytest_asyncio
from agentopia.v1 import keyvault_types_pb2 as kv_types
from agentopia.v1 import metrics_service_pb2
from agentopia.v1 import provider_service_pb2_grpc as pv_grpc

from keyvault.client.keycache import Principal
from keyvault.client.limits import Limits, MemoryLimiter
from metrics.client.pricing import default_table
from services.kernel.channels import open_channel
from services.router.admission import Admission
from services.router.body import CHAT, parse_body
from services.router.pipeline import InferenceRequest, Pipeline
from services.router.routing import Planner, RegistryHolder, RoutingState
from services.router.routing.loader import parse_registry, shipped_document
from services.router.streams import StreamOpened
from tests.router.stack import provider_service

pytestmark = pytest.mark.asyncio(loop_scope="session")


class _Events:
    def __init__(self) -> None:
        self.events: list[metrics_service_pb2.UsageEvent] = []

    def record(self, event: metrics_service_pb2.UsageEvent) -> None:
        self.events.append(event)


class _RpcContext:
    """What grpc.aio gives a servicer, as far as `close_when_done` uses it."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[[Any], object]] = []

    def add_done_callback(self, callback: Callable[[Any], object]) -> None:
        self._callbacks.append(callback)

    def end(self) -> None:  # the RPC terminates (here: the client cancelled it)
        for callback in self._callbacks:
            callback(self)


class _World:
    def __init__(self, pipeline: Pipeline, state: RoutingState, limiter: MemoryLimiter) -> None:
        self.pipeline, self.state, self.limiter = pipeline, state, limiter
        self.usage = _Events()


@pytest_asyncio.fixture(loop_scope="session")
async def world() -> AsyncIterator[_World]:
    async with provider_service({}) as target:
        channel = open_channel(target)
        registry = parse_registry(shipped_document(demo=True), source="test")
        state = RoutingState(registry)
        limiter = MemoryLimiter()
        usage = _Events()
        pipeline = Pipeline(
            provider=pv_grpc.ProviderServiceStub(channel),
            registry=RegistryHolder(registry),
            state=state,
            planner=Planner(state),
            usage=usage,
            admission=Admission(limiter, default_table()),
        )
        running = _World(pipeline, state, limiter)
        running.usage = usage
        try:
            yield running
        finally:
            await pipeline.drain()
            await channel.close(None)


LIMITS = Limits(rpm=1000, tpm=10_000_000)


def _principal(key_id: str) -> Principal:
    return Principal(
        key_id=key_id,
        name="t",
        role=kv_types.KEY_ROLE_CLIENT,
        team="",
        owner="",
        allowed_models=frozenset(),
        limits=LIMITS,
    )


PRINCIPAL = _principal("key_stream_start")


def _request(request_id: str, principal: Principal = PRINCIPAL, **body: object) -> InferenceRequest:
    raw = orjson.dumps({"model": "mock/echo", **body})
    return InferenceRequest(
        parsed=parse_body(raw, CHAT, max_bytes=1 << 20),
        raw=raw,
        principal=principal,
        request_id=request_id,
        deadline_s=None,
    )


def _stalled_stream() -> InferenceRequest:
    return _request(
        "req-stream-start",
        stream=True,
        messages=[{"role": "user", "content": "one two three four five six"}],
        # The first chunk at once, the next one only after the test is over.
        mock={"chunk_delay_ms": 60_000},
    )


def _outstanding(state: RoutingState) -> int:
    return sum(snapshot.outstanding for snapshot in state.snapshot())


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(500):  # bounded: about 10 s
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the condition never held")


async def test_the_end_of_the_rpc_cleans_up_a_stream_whose_rest_never_started(
    world: _World,
) -> None:
    opened: StreamOpened = await world.pipeline.open_stream(_stalled_stream())
    context = _RpcContext()
    opened.close_when_done(context)  # type: ignore[arg-type]
    assert opened.first  # the first events arrived
    assert _outstanding(world.state) == 1
    assert (await world.limiter.usage(PRINCIPAL.key_id, LIMITS)).in_flight == 1

    context.end()  # the client left; nobody ever iterates opened.rest()

    assert _outstanding(world.state) == 0  # the lease (and any probe slot) at once
    await _until(lambda: bool(world.usage.events))
    event = world.usage.events[-1]
    assert (event.status_code, event.error_code) == (499, "client_closed_request")
    assert event.request_id == "req-stream-start"
    await world.pipeline.drain()
    usage = await world.limiter.usage(PRINCIPAL.key_id, LIMITS)
    assert usage.in_flight == 0  # the reservation was settled, not left to expire


async def test_clean_up_runs_once_when_rest_already_finished(world: _World) -> None:
    request = _request(
        "req-stream-whole", stream=True, messages=[{"role": "user", "content": "short"}]
    )
    before = len(world.usage.events)
    opened = await world.pipeline.open_stream(request)
    context = _RpcContext()
    opened.close_when_done(context)  # type: ignore[arg-type]
    async for _events, _last in opened.rest():
        pass
    context.end()
    await world.pipeline.drain()
    await _until(lambda: len(world.usage.events) > before)
    recorded = world.usage.events[before:]
    assert len(recorded) == 1  # one event per request, never two
    assert recorded[0].status_code == 200
    assert _outstanding(world.state) == 0


async def test_an_abandoned_non_streaming_call_is_charged_its_estimate(world: _World) -> None:
    """The upstream may have generated (and billed) the answer the client walked away
    from: the reservation settles at its estimate instead of being released."""
    principal = _principal("key_abandoned")
    request = _request(
        "req-abandoned",
        principal,
        messages=[{"role": "user", "content": "take your time"}],
        max_tokens=50,
        mock={"latency_ms": 60_000},
    )
    calling = asyncio.create_task(world.pipeline.complete(request))
    await _until(lambda: _outstanding(world.state) == 1)  # in flight at the provider
    calling.cancel()
    with pytest.raises(asyncio.CancelledError):
        await calling
    await world.pipeline.drain()
    usage = await world.limiter.usage(principal.key_id, LIMITS)
    assert usage.in_flight == 0
    assert usage.tokens_in_window >= 50  # prompt estimate + the 50-token output bound
