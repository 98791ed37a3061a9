"""The OpenAI surface through the real Envoy: exact bytes, SDK behaviour, pass-through."""

from __future__ import annotations

import json

import aiohttp
import openai

from tests.gateway.conftest import Mesh
from tests.gateway.stubs import CLIENT_AUTH, STREAM_CHUNKS, completion

CHAT = "/v1/chat/completions"


def sdk(mesh: Mesh) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=mesh.edge.openai_base_url, api_key="sk-agp-test", max_retries=0
    )


async def test_non_streaming_body_passes_through_byte_for_byte(mesh: Mesh) -> None:
    request = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    async with (
        aiohttp.ClientSession(mesh.edge.url, headers=CLIENT_AUTH) as http,
        http.post(CHAT, json=request) as reply,
    ):
        body = await reply.read()
        assert reply.status == 200
        assert reply.headers["content-type"] == "application/json"
    assert body == json.dumps(completion("echo:hi")).encode()


async def test_stream_passes_through_byte_for_byte(mesh: Mesh) -> None:
    request = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    async with (
        aiohttp.ClientSession(mesh.edge.url, headers=CLIENT_AUTH) as http,
        http.post(CHAT, json=request) as reply,
    ):
        body = await reply.read()
        assert reply.status == 200
        assert reply.headers["content-type"] == "text/event-stream"
    assert body == b"".join(STREAM_CHUNKS)


async def test_request_bytes_and_unknown_fields_reach_the_servicer(mesh: Mesh) -> None:
    raw = (
        b'{"model":"m","messages":[{"role":"user","content":"hi","x_part":{"deep":[1,null]}}],'
        b'"vendor_knob":{"nested":[1.5,true,"s"]},"seed":12345678901234}'
    )
    headers = {
        "content-type": "application/json",
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    }
    async with (
        aiohttp.ClientSession(mesh.edge.url, headers=CLIENT_AUTH) as http,
        http.post(CHAT, data=raw, headers=headers) as reply,
    ):
        assert reply.status == 200
        await reply.read()
    assert mesh.router.bodies[-1] == raw
    assert mesh.router.metadata[-1]["traceparent"] == headers["traceparent"]


async def test_sdk_create_and_extra_body(mesh: Mesh) -> None:
    async with sdk(mesh) as client:
        reply = await client.chat.completions.create(
            model="mock/echo",
            messages=[{"role": "user", "content": "ping"}],
            extra_body={"provider_options": {"cache": {"ttl": 60}}},
            extra_headers={"x-request-id": "req-123"},
        )
    assert reply.choices[0].message.content == "echo:ping"
    assert reply.created == 1_700_000_000 and isinstance(reply.created, int)
    assert reply.usage is not None and reply.usage.total_tokens == 5
    sent = json.loads(mesh.router.bodies[-1])
    assert sent["provider_options"] == {"cache": {"ttl": 60}}
    metadata = mesh.router.metadata[-1]
    assert metadata["authorization"] == "Bearer sk-agp-test"
    assert metadata["x-request-id"] == "req-123"


async def test_sdk_stream_yields_every_chunk(mesh: Mesh) -> None:
    async with sdk(mesh) as client:
        stream = await client.chat.completions.create(
            model="mock/echo", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == "Hello, wörld"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert json.loads(mesh.router.bodies[-1])["stream"] is True


async def test_sdk_stream_helper(mesh: Mesh) -> None:
    async with sdk(mesh) as client:
        async with client.chat.completions.stream(
            model="mock/echo", messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            final = await stream.get_final_completion()
    assert final.choices[0].message.content == "Hello, wörld"


async def test_sdk_models_including_ids_with_slashes(mesh: Mesh) -> None:
    async with sdk(mesh) as client:
        models = await client.models.list()
        model = await client.models.retrieve("mock/echo")
    assert [m.id for m in models.data] == ["mock/echo"]
    assert model.id == "mock/echo"


async def test_client_disconnect_cancels_the_servicer_rpc(mesh: Mesh) -> None:
    request = {"model": "endless", "stream": True, "messages": []}
    async with aiohttp.ClientSession(mesh.edge.url, headers=CLIENT_AUTH) as http:
        reply = await http.post(CHAT, json=request)
        assert reply.status == 200
        assert (await reply.content.readline()).startswith(b"data: ")
        await mesh.router.streaming.wait()
        reply.close()  # drop the connection mid-stream
    await mesh.router.cancelled.wait()  # the servicer saw the cancellation
