"""The edge runs Lua only where a body must be rewritten: on REST error responses. A
successful reply, streamed or not, over HTTP/1.1 or HTTP/2, and every native gRPC call
pass through native filters alone (gateway/filters.py).

The edge here runs `edge_filter.lua` with one line added: its response function first
sets `x-edge-lua: ran`, which no filter removes, so a reply shows whether Lua ran."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator

import aiohttp
import grpc
import pytest
from agentopia.v1 import openai_compat_service_pb2_grpc
from google.api import httpbody_pb2

import gateway.envoy_config
from gateway.settings import EdgeSettings
from tests.gateway.stubs import CLIENT_AUTH, RouterStub, start_server
from tests.support.edge import Edge, run_edge

MARKER = "x-edge-lua"
_ENTRY = "function envoy_on_response(handle)\n"
_ORIGINAL = gateway.envoy_config.lua_source


def _marked_source(settings: EdgeSettings) -> str:
    source = _ORIGINAL(settings)
    assert _ENTRY in source
    return source.replace(_ENTRY, f'{_ENTRY}  handle:headers():add("{MARKER}", "ran")\n')


@pytest.fixture(scope="module")
async def edge() -> AsyncIterator[Edge]:
    server, port = await start_server(RouterStub())
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(gateway.envoy_config, "lua_source", _marked_source)
            async with run_edge(router_port=port) as running:
                yield running
    finally:
        await server.stop(0)


CHAT = {"model": "m", "messages": [{"role": "user", "content": "x"}]}


@pytest.mark.parametrize(
    ("body", "status", "lua"),
    [
        (CHAT, 200, False),
        ({"model": "m", "stream": True}, 200, False),
        ({"model": "error-404"}, 404, True),  # x-agentopia-error: the body is replaced
        ({"model": "error-plain"}, 503, True),  # the transcoder's Status JSON, wrapped
    ],
)
async def test_lua_runs_on_rest_errors_only(
    edge: Edge, body: dict[str, object], status: int, lua: bool
) -> None:
    async with (
        aiohttp.ClientSession(edge.url, headers=CLIENT_AUTH) as http,
        http.post("/v1/chat/completions", json=body) as reply,
    ):
        await reply.read()
    assert reply.status == status
    assert (reply.headers.get(MARKER) == "ran") is lua


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl with HTTP/2")
async def test_no_lua_on_a_successful_http2_stream(edge: Edge) -> None:
    process = await asyncio.create_subprocess_exec(
        "curl", "-sS", "-N", "-v", "--http2-prior-knowledge",
        f"{edge.url}/v1/chat/completions", "-H", "content-type: application/json",
        "-H", f"authorization: {CLIENT_AUTH['Authorization']}",
        "-d", '{"model":"m","stream":true}',
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    fields = [line[2:].lower() for line in err.decode().splitlines() if line.startswith("< ")]
    assert fields[0].startswith("http/2 200") and out.endswith(b"data: [DONE]\n\n")
    assert not [field for field in fields if field.startswith(MARKER)], fields


async def test_no_lua_on_native_grpc_even_for_an_error(edge: Edge) -> None:
    async with grpc.aio.insecure_channel(edge.grpc_target) as channel:
        stub = openai_compat_service_pb2_grpc.OpenAICompatServiceStub(channel)
        call = stub.ChatCompletions(httpbody_pb2.HttpBody(data=b'{"model": "error-404"}'))
        with pytest.raises(grpc.aio.AioRpcError) as failure:
            async for _ in call:
                pass
    assert failure.value.code() == grpc.StatusCode.NOT_FOUND
    received = dict(failure.value.trailing_metadata() or ()) | dict(
        failure.value.initial_metadata() or ()
    )
    assert MARKER not in received and "x-agentopia-error" in received
