"""The router's stream reader: what arrives while the router writes travels as one batch."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from agentopia.v1 import chat_pb2
from agentopia.v1 import provider_service_pb2 as pb
from agentopia.v1 import provider_service_pb2_grpc as pb_grpc

from services.kernel.errors import GatewayError
from services.kernel.inprocess import InProcessChannel
from services.router.streams import Coalescer


class _Provider(pb_grpc.ProviderServiceServicer):
    def __init__(self, count: int, *, fail: bool = False) -> None:
        self.count, self.fail = count, fail
        self.gate = asyncio.Event()

    async def StreamGenerate(
        self, request: pb.StreamGenerateRequest, context: Any
    ) -> AsyncIterator[pb.StreamGenerateResponse]:
        yield pb.StreamGenerateResponse(events=b"data: 0\n\n")
        await self.gate.wait()
        for index in range(1, self.count):
            yield pb.StreamGenerateResponse(events=b"data: %d\n\n" % index)
        if self.fail:
            raise GatewayError(grpc.StatusCode.UNAVAILABLE, "gone", "Gone.")
        yield pb.StreamGenerateResponse(usage=chat_pb2.Usage(total_tokens=3))


def _call(provider: _Provider) -> Any:
    channel = InProcessChannel()
    pb_grpc.add_ProviderServiceServicer_to_server(provider, channel)
    stub = pb_grpc.ProviderServiceStub(channel)
    return stub.StreamGenerate(pb.StreamGenerateRequest(), timeout=10.0)


async def test_a_ready_message_is_handed_over_at_once() -> None:
    provider = _Provider(4)
    reader = Coalescer(_call(provider))
    first = await asyncio.wait_for(reader.take(), 5)
    assert [m.events for m in first] == [b"data: 0\n\n"]  # not held back for the others
    reader.close()


async def test_what_arrives_during_a_write_is_one_batch() -> None:
    provider = _Provider(4)
    reader = Coalescer(_call(provider))
    await reader.take()
    provider.gate.set()
    for _ in range(100):  # the "write" in progress: the reader keeps reading meanwhile
        await asyncio.sleep(0)
    batch = await reader.take()
    assert [m.events for m in batch] == [b"data: 1\n\n", b"data: 2\n\n", b"data: 3\n\n", b""]
    assert batch[-1].usage.total_tokens == 3
    await reader.finished()
    assert await reader.take() == []


async def test_a_failure_after_messages_comes_after_them() -> None:
    provider = _Provider(3, fail=True)
    reader = Coalescer(_call(provider))
    await reader.take()
    provider.gate.set()
    got: list[bytes] = []
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        while batch := await reader.take():
            got += [m.events for m in batch]
    assert got == [b"data: 1\n\n", b"data: 2\n\n"]
    assert GatewayError.from_rpc_error(caught.value).code == "gone"
