"""The in-process channel keeps a real channel's semantics for generated stubs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from agentopia.v1 import provider_service_pb2 as pb
from agentopia.v1 import provider_service_pb2_grpc as pb_grpc

from services.kernel.errors import GatewayError
from services.kernel.inprocess import InProcessChannel


class _Servicer(pb_grpc.ProviderServiceServicer):
    def __init__(self) -> None:
        self.seen_metadata: Any = None
        self.remaining: float | None = None
        self.closed = asyncio.Event()
        self.done_calls = 0

    async def Generate(self, request: pb.GenerateRequest, context: Any) -> pb.GenerateResponse:
        self.seen_metadata = context.invocation_metadata()
        self.remaining = context.time_remaining()
        if request.invocation.provider == "refuse":
            raise GatewayError(grpc.StatusCode.INVALID_ARGUMENT, "bad_thing", "No.", param="p")
        if request.invocation.provider == "abort":
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED, "denied", (("x-why", "because"),)
            )
        if request.invocation.provider == "slow":
            await asyncio.sleep(5)
        if request.invocation.provider == "crash":
            raise RuntimeError("boom")
        return pb.GenerateResponse(response_json=request.invocation.request_json)

    async def StreamGenerate(
        self, request: pb.StreamGenerateRequest, context: Any
    ) -> AsyncIterator[pb.StreamGenerateResponse]:
        context.add_done_callback(lambda _ctx: setattr(self, "done_calls", self.done_calls + 1))
        try:
            for index in range(3):
                yield pb.StreamGenerateResponse(events=b"%d" % index)
                if request.invocation.provider == "endless":
                    await asyncio.sleep(3600)
            if request.invocation.provider == "fail-late":
                raise GatewayError(grpc.StatusCode.UNAVAILABLE, "gone", "Gone.", retryable=True)
        finally:
            self.closed.set()


@pytest.fixture
def wired() -> tuple[_Servicer, pb_grpc.ProviderServiceStub]:
    servicer = _Servicer()
    channel = InProcessChannel()
    pb_grpc.add_ProviderServiceServicer_to_server(servicer, channel)
    return servicer, pb_grpc.ProviderServiceStub(channel)


def _request(provider: str) -> pb.GenerateRequest:
    return pb.GenerateRequest(invocation=pb.Invocation(provider=provider, request_json=b"{}"))


async def test_unary_returns_the_servicers_message_with_metadata_and_deadline(wired: Any) -> None:
    servicer, stub = wired
    reply = await stub.Generate(_request("ok"), timeout=5.0, metadata=(("x-request-id", "r1"),))
    assert reply.response_json == b"{}"
    assert servicer.seen_metadata == (("x-request-id", "r1"),)
    assert 4.0 < servicer.remaining <= 5.0


async def test_gateway_error_arrives_as_rpc_error_that_rebuilds_it(wired: Any) -> None:
    _, stub = wired
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Generate(_request("refuse"))
    rebuilt = GatewayError.from_rpc_error(caught.value)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (rebuilt.code, rebuilt.message, rebuilt.param) == ("bad_thing", "No.", "p")


async def test_abort_keeps_code_and_trailing_metadata(wired: Any) -> None:
    _, stub = wired
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Generate(_request("abort"))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert ("x-why", "because") in tuple(caught.value.trailing_metadata())


async def test_deadline_exceeded(wired: Any) -> None:
    _, stub = wired
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Generate(_request("slow"), timeout=0.05)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


async def test_unexpected_exception_is_internal(wired: Any) -> None:
    _, stub = wired
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Generate(_request("crash"))
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    assert "boom" not in (caught.value.details() or "")


async def test_stream_reads_every_message_then_eof(wired: Any) -> None:
    servicer, stub = wired
    call = stub.StreamGenerate(pb.StreamGenerateRequest(invocation=pb.Invocation(provider="ok")))
    got = [message.events async for message in call]
    assert got == [b"0", b"1", b"2"]
    assert servicer.done_calls == 1


async def test_stream_error_after_messages_is_an_rpc_error(wired: Any) -> None:
    _, stub = wired
    call = stub.StreamGenerate(
        pb.StreamGenerateRequest(invocation=pb.Invocation(provider="fail-late"))
    )
    got = []
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for message in call:
            got.append(message.events)
    assert got == [b"0", b"1", b"2"]
    assert GatewayError.from_rpc_error(caught.value).code == "gone"


async def test_cancel_closes_the_servicers_generator_and_fires_done(wired: Any) -> None:
    servicer, stub = wired
    call = stub.StreamGenerate(
        pb.StreamGenerateRequest(invocation=pb.Invocation(provider="endless"))
    )
    first = await call.read()
    assert first.events == b"0"
    reader = asyncio.create_task(call.read())
    await asyncio.sleep(0.01)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    await asyncio.wait_for(servicer.closed.wait(), 5)
    assert servicer.done_calls == 1
    assert call.cancel() is False  # already finished
