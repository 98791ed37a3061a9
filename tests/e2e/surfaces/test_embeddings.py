"""POST /v1/embeddings through the real edge with the official `openai` SDK (and the
typed gRPC RPC beside it): every input shape, both encodings, `dimensions`, on
OpenAI (passed through to its emulator) and the mock; chat models and embedding
models never stand in for each other."""

from __future__ import annotations

import base64
import struct

import grpc
import openai
import pytest
from agentopia.v1 import embedding_pb2
from agentopia.v1 import inference_service_pb2 as inf_pb2
from agentopia.v1 import inference_service_pb2_grpc as inf_grpc

from tests.e2e.conftest import Edge
from tests.emulators._openai_embeddings import vector_for

pytestmark = pytest.mark.e2e

EMBEDDERS = {"openai": "text-embedding-3-small", "mock": "mock/embed"}


def _floats(encoded: str) -> list[float]:
    packed = base64.b64decode(encoded)
    return list(struct.unpack(f"<{len(packed) // 4}f", packed))


@pytest.mark.parametrize("backend", list(EMBEDDERS))
async def test_texts_come_back_as_one_vector_each_in_order(
    aclient: openai.AsyncOpenAI, backend: str
) -> None:
    reply = await aclient.embeddings.create(
        model=EMBEDDERS[backend], input=["alpha", "beta", "gamma"], encoding_format="float"
    )
    assert [item.index for item in reply.data] == [0, 1, 2]
    assert len({tuple(item.embedding) for item in reply.data}) == 3
    assert all(isinstance(x, float) for x in reply.data[0].embedding)
    assert reply.usage.prompt_tokens > 0
    assert reply.model == EMBEDDERS[backend]


@pytest.mark.parametrize("backend", list(EMBEDDERS))
async def test_the_sdk_default_base64_decodes_to_the_same_vectors(
    aclient: openai.AsyncOpenAI, backend: str
) -> None:
    # The SDK asks for base64 when the caller sets nothing, and decodes it itself.
    decoded = await aclient.embeddings.create(model=EMBEDDERS[backend], input="hello world")
    floats = await aclient.embeddings.create(
        model=EMBEDDERS[backend], input="hello world", encoding_format="float"
    )
    assert decoded.data[0].embedding == pytest.approx(floats.data[0].embedding)


async def test_the_openai_upstream_gets_the_body_as_sent(
    edge: Edge, aclient: openai.AsyncOpenAI
) -> None:
    reply = await aclient.embeddings.create(
        model="text-embedding-3-small",
        input=[[1, 2, 3], [4, 5]],
        dimensions=8,
        encoding_format="base64",
    )
    sent = edge.upstreams.openai.requests[-1]
    assert sent.path == "/v1/embeddings"
    assert sent.body == {
        "model": "text-embedding-3-small",
        "input": [[1, 2, 3], [4, 5]],
        "dimensions": 8,
        "encoding_format": "base64",
    }
    # Asked for explicitly, base64 comes back as sent: little-endian float32.
    vectors = [_floats(str(item.embedding)) for item in reply.data]
    assert [len(v) for v in vectors] == [8, 8]
    assert vectors[1] == pytest.approx(vector_for([4, 5], 8))


async def test_raw_base64_is_little_endian_float32(edge: Edge, aclient: openai.AsyncOpenAI) -> None:
    raw = (
        await aclient.embeddings.with_raw_response.create(
            model="mock/embed", input="x", dimensions=4, encoding_format="base64"
        )
    ).http_response.json()
    packed = base64.b64decode(raw["data"][0]["embedding"])
    assert len(struct.unpack("<4f", packed)) == 4


async def test_chat_and_embedding_models_never_stand_in_for_each_other(
    aclient: openai.AsyncOpenAI,
) -> None:
    with pytest.raises(openai.BadRequestError) as chat_model:
        await aclient.embeddings.create(model="mock/echo", input="x")
    assert "embeddings" in str(chat_model.value)
    with pytest.raises(openai.BadRequestError) as embedder:
        await aclient.chat.completions.create(
            model="mock/embed", messages=[{"role": "user", "content": "hi"}]
        )
    assert "chat" in str(embedder.value)


async def test_bad_input_is_a_clear_400(aclient: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await aclient.embeddings.create(model="mock/embed", input=[])
    assert caught.value.code == "invalid_input"


async def test_the_typed_rpc_returns_float_vectors(edge: Edge) -> None:
    async with grpc.aio.insecure_channel(edge.grpc_target) as channel:
        stub = inf_grpc.InferenceServiceStub(channel)
        reply = await stub.CreateEmbeddings(
            inf_pb2.CreateEmbeddingsRequest(
                request=embedding_pb2.EmbeddingRequest(
                    model="mock/embed",
                    texts=embedding_pb2.EmbeddingTexts(texts=["one", "two"]),
                    dimensions=6,
                )
            ),
            metadata=(("authorization", f"Bearer {edge.admin_key}"),),
            timeout=30,
        )
    assert [item.index for item in reply.response.data] == [0, 1]
    assert len(reply.response.data[0].vector) == 6
    assert reply.response.usage.prompt_tokens > 0
