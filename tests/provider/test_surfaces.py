"""The provider service's side of the client surfaces, over real gRPC (in-process):
embeddings on the adapters that declare them (OpenAI against its emulator, the mock)
and refused elsewhere; a Messages request taken natively where the adapter can, else
its unified translation — refused naming what the translation could not carry;
count_tokens from the provider's counter or absent."""

from __future__ import annotations

import base64
import struct
from collections.abc import AsyncIterator
from typing import Any

import grpc
import orjson
import pytest
from agentopia.v1 import provider_service_pb2 as pv_pb2

from services.kernel.errors import GatewayError
from services.provider.adapters import openai as openai_adapter
from services.provider.adapters.base import Call, Credential, Operation
from services.provider.adapters.mock.adapter import MockAdapter
from services.provider.http import PooledHttp
from services.provider.settings import ProviderConfig
from tests.emulators._openai_embeddings import vector_for
from tests.emulators.openai_compat import OpenAICompatEmulator
from tests.provider.core_support import Running, invocation, provider_service

KEY = "sk-test-embeddings-0123456789"
MESSAGES = {"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": "Hi"}]}
UNIFIED = {"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": "Hi"}]}


@pytest.fixture
async def service() -> AsyncIterator[Running]:
    async with provider_service(env={"ANTHROPIC_API_KEY": "sk-ant-unused"}) as running:
        yield running


@pytest.fixture
async def emu() -> AsyncIterator[OpenAICompatEmulator]:
    async with OpenAICompatEmulator("openai", api_keys=(KEY,)) as emulator:
        yield emulator


def _embed_call(body: dict[str, Any]) -> Call:
    return Call(
        operation=Operation.EMBEDDINGS,
        body=body,
        upstream_model="text-embedding-3-small",
        response_model="text-embedding-3-small",
        request_id="req-e",
        credential=Credential(key_id="key_e", secret=KEY),
    )


async def test_openai_embeddings_pass_through(emu: OpenAICompatEmulator) -> None:
    pool = PooledHttp("openai", emu.base_url)
    await pool.start()
    try:
        config = ProviderConfig(name="openai", base_url=emu.base_url)
        adapter = openai_adapter.PROVIDER.factory(config, pool)
        body = {"model": "small", "input": [[3], [1, 2]], "encoding_format": "base64"}
        result = await adapter.generate(_embed_call(body))
    finally:
        await pool.close()
    assert emu.requests[-1].path == "/v1/embeddings"
    assert emu.requests[-1].body == {**body, "model": "text-embedding-3-small"}
    packed = base64.b64decode(result.body["data"][1]["embedding"])
    assert list(struct.unpack(f"<{len(packed) // 4}f", packed)) == vector_for([1, 2])
    assert result.usage.prompt_tokens == result.body["usage"]["prompt_tokens"] > 0


async def test_the_mock_embeds_deterministically_in_both_encodings() -> None:
    mock = MockAdapter()
    floats = await mock.generate(_embed_call({"input": ["x", "y"], "dimensions": 3}))
    encoded = await mock.generate(
        _embed_call({"input": ["x", "y"], "dimensions": 3, "encoding_format": "base64"})
    )
    vectors = [item["embedding"] for item in floats.body["data"]]
    assert len(vectors) == 2 and all(len(v) == 3 for v in vectors)
    unpacked = struct.unpack("<3f", base64.b64decode(encoded.body["data"][0]["embedding"]))
    assert list(unpacked) == vectors[0]
    assert floats.usage.prompt_tokens == 2
    with pytest.raises(GatewayError) as caught:
        await mock.generate(_embed_call({"input": [], "dimensions": 3}))
    assert caught.value.param == "input"


async def test_embeddings_on_a_provider_without_them_are_refused(service: Running) -> None:
    request = pv_pb2.GenerateRequest(
        invocation=invocation(
            "anthropic",
            {"model": "c", "input": "x"},
            model="c",
            operation=pv_pb2.OPERATION_EMBEDDINGS,
        )
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await service.stub.Generate(request)
    assert GatewayError.from_rpc_error(caught.value).code == "unsupported_operation"


async def test_a_translated_request_refuses_what_it_could_not_carry(service: Running) -> None:
    request = pv_pb2.GenerateRequest(
        invocation=invocation(
            "mock",
            UNIFIED,
            model="echo",
            inbound_format=pv_pb2.INBOUND_FORMAT_MESSAGES,
            inbound_json=orjson.dumps(MESSAGES),
            untranslatable=["thinking", "top_k"],
        )
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await service.stub.Generate(request)
    error = GatewayError.from_rpc_error(caught.value)
    assert error.code == "unsupported_feature" and error.http_status == 400
    assert "'thinking', 'top_k'" in error.message


async def test_a_translated_request_answers_in_the_unified_format(service: Running) -> None:
    request = pv_pb2.GenerateRequest(
        invocation=invocation(
            "mock",
            UNIFIED,
            model="echo",
            inbound_format=pv_pb2.INBOUND_FORMAT_MESSAGES,
            inbound_json=orjson.dumps(MESSAGES),
        )
    )
    reply = await service.stub.Generate(request)
    assert not reply.native
    assert orjson.loads(reply.response_json)["object"] == "chat.completion"


async def test_count_tokens_is_absent_without_a_counter(service: Running) -> None:
    reply = await service.stub.CountTokens(
        pv_pb2.CountTokensRequest(
            invocation=invocation(
                "mock",
                UNIFIED,
                model="echo",
                inbound_format=pv_pb2.INBOUND_FORMAT_MESSAGES,
                inbound_json=orjson.dumps(MESSAGES),
            )
        )
    )
    assert not reply.HasField("input_tokens")
