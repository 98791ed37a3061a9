"""`open_channel(..., identity=...)` adds the workload's token to every call, beside the
caller's own metadata, on unary and streaming calls alike; the call graph keeps a
method added to an internal-only service internal."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from services.kernel.channels import open_channel
from services.kernel.identity import IDENTITY_HEADER
from services.kernel.peers import ROUTERS, callers_of
from tests.support.identity import TOKENS, identity

_Ctx = grpc.aio.ServicerContext[bytes, bytes]


def _seen(context: _Ctx) -> bytes:
    pairs = sorted(
        (k, v)
        for k, v in context.invocation_metadata() or ()
        if k in {IDENTITY_HEADER, "authorization"}
    )
    return repr(pairs).encode()


async def _unary(request: bytes, context: _Ctx) -> bytes:
    return _seen(context)


async def _stream(request: bytes, context: _Ctx) -> AsyncIterator[bytes]:
    yield _seen(context)


async def test_the_token_rides_beside_the_caller_s_metadata() -> None:
    server = grpc.aio.server()
    handler = grpc.method_handlers_generic_handler(
        "t.Echo",
        {
            "Unary": grpc.unary_unary_rpc_method_handler(_unary),
            "Stream": grpc.unary_stream_rpc_method_handler(_stream),
        },
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with open_channel(f"127.0.0.1:{port}", identity=identity("router")) as channel:
            auth = (("authorization", "Bearer sk-agp-admin"),)
            unary = await channel.unary_unary("/t.Echo/Unary", None, None)(b"", metadata=auth)
            stream = channel.unary_stream("/t.Echo/Stream", None, None)(b"", metadata=auth)
            streamed = [item async for item in stream]
            bare = await channel.unary_unary("/t.Echo/Unary", None, None)(b"")
    finally:
        await server.stop(0)
    both = repr(
        sorted(
            [
                (IDENTITY_HEADER, f"router {TOKENS['router']}"),
                ("authorization", "Bearer sk-agp-admin"),
            ]
        )
    ).encode()
    assert unary == both and streamed == [both]
    assert bare == repr([(IDENTITY_HEADER, f"router {TOKENS['router']}")]).encode()


def test_an_unlisted_provider_service_method_is_still_internal() -> None:
    assert callers_of("/agentopia.v1.ProviderService/SomethingNew") == ROUTERS
    assert callers_of("/agentopia.v1.OpenAICompatService/ChatCompletions") is None
