"""Every surface on the one pipeline, in-process over real gRPC: the Messages API
(`x-api-key` or Bearer, its error shape and statuses in the edge trailers, the
estimator for count_tokens), embeddings on the REST and typed APIs, and the usage
event naming the surface each request came in on."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import orjson
import pytest
import pytest_asyncio
from agentopia.v1 import embedding_pb2
from agentopia.v1 import inference_service_pb2 as inf_pb2
from agentopia.v1 import inference_service_pb2_grpc as inf_grpc
from agentopia.v1 import messages_service_pb2_grpc as ms_grpc
from agentopia.v1 import metrics_service_pb2 as m_pb2
from google.api import httpbody_pb2

from services.router.errors import ERROR_BODY_KEY, HTTP_STATUS_KEY
from tests.router.stack import CLIENT_KEY, RouterStack, router_stack

pytestmark = pytest.mark.asyncio(loop_scope="session")

HELLO = {"model": "mock/echo", "max_tokens": 32, "messages": [{"role": "user", "content": "Hi"}]}


@pytest_asyncio.fixture(loop_scope="session")
async def stack() -> AsyncIterator[RouterStack]:
    async with router_stack({}) as running:
        yield running


def _body(value: dict[str, Any]) -> httpbody_pb2.HttpBody:
    return httpbody_pb2.HttpBody(content_type="application/json", data=orjson.dumps(value))


async def _until(predicate: Callable[[], bool], what: str) -> None:
    for _ in range(500):  # bounded: up to ~10 s
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never: {what}")


async def _event_for(stack: RouterStack, call: Awaitable[Any]) -> m_pb2.UsageEvent:
    before = len(stack.metrics.events)
    await call
    await _until(lambda: len(stack.metrics.events) > before, "the usage event")
    return stack.metrics.events[-1]


def _trailers(error: grpc.aio.AioRpcError) -> dict[str, str | bytes]:
    return {key: value for key, value in error.trailing_metadata() or ()}


async def _message(stack: RouterStack, body: dict[str, Any], metadata: Any) -> list[bytes]:
    stub = ms_grpc.MessagesServiceStub(stack.channel)
    return [m.data async for m in stub.CreateMessage(_body(body), metadata=metadata)]


@pytest.mark.parametrize(
    "metadata",
    [(("x-api-key", CLIENT_KEY),), (("authorization", f"Bearer {CLIENT_KEY}"),)],
    ids=["x-api-key", "bearer"],
)
async def test_messages_authenticate_either_way(stack: RouterStack, metadata: Any) -> None:
    (data,) = await _message(stack, HELLO, metadata)
    message = orjson.loads(data)
    assert message["type"] == "message" and message["content"][0]["type"] == "text"


async def test_messages_errors_have_their_own_shape_in_the_edge_trailers(
    stack: RouterStack,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _message(stack, HELLO, ())
    trailers = _trailers(caught.value)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert trailers[HTTP_STATUS_KEY] == "401"
    body = json.loads(trailers[ERROR_BODY_KEY])
    assert body["type"] == "error" and body["error"]["type"] == "authentication_error"


async def test_capacity_errors_are_529_overloaded(stack: RouterStack) -> None:
    broken = {**HELLO, "model": "mock/overloaded"}  # its upstream answers 529
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _message(stack, broken, (("x-api-key", CLIENT_KEY),))
    trailers = _trailers(caught.value)
    assert trailers[HTTP_STATUS_KEY] == "529"
    assert json.loads(trailers[ERROR_BODY_KEY])["error"]["type"] == "overloaded_error"


async def test_a_feature_the_backend_lacks_is_a_400_naming_it(stack: RouterStack) -> None:
    thinking = {**HELLO, "thinking": {"type": "enabled", "budget_tokens": 1024}}
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _message(stack, thinking, (("x-api-key", CLIENT_KEY),))
    trailers = _trailers(caught.value)
    assert trailers[HTTP_STATUS_KEY] == "400"
    assert "'thinking'" in json.loads(trailers[ERROR_BODY_KEY])["error"]["message"]


async def test_count_tokens_without_a_backend_counter_is_the_labelled_estimate(
    stack: RouterStack,
) -> None:
    stub = ms_grpc.MessagesServiceStub(stack.channel)
    body = {"model": "mock/echo", "messages": [{"role": "user", "content": "Count me"}]}
    call = stub.CountMessageTokens(_body(body), metadata=(("x-api-key", CLIENT_KEY),))
    reply = await call
    assert orjson.loads(reply.data)["input_tokens"] > 0
    assert dict(await call.initial_metadata())["x-agentopia-token-count"] == "estimate"


async def test_the_usage_event_names_the_surface(stack: RouterStack) -> None:
    auth = (("authorization", f"Bearer {CLIENT_KEY}"),)
    messages = await _event_for(stack, _message(stack, HELLO, auth))
    assert (messages.surface, messages.operation) == ("messages", "chat")
    assert messages.prompt_tokens > 0 and messages.completion_tokens > 0
    chat = {"model": "mock/echo", "messages": [{"role": "user", "content": "Hi"}]}
    completions = await _event_for(
        stack, stack.stub.ChatCompletions(_body(chat), metadata=auth).read()
    )
    assert completions.surface == "chat_completions"
    embedding = {"model": "mock/embed", "input": ["a", "b"]}
    embeddings = await _event_for(stack, stack.stub.Embeddings(_body(embedding), metadata=auth))
    assert (embeddings.surface, embeddings.operation) == ("embeddings", "embeddings")
    assert embeddings.prompt_tokens > 0 and embeddings.cost_usd  # priced like chat
    typed = inf_grpc.InferenceServiceStub(stack.channel)
    request = inf_pb2.CreateEmbeddingsRequest(
        request=embedding_pb2.EmbeddingRequest(
            model="mock/embed", texts=embedding_pb2.EmbeddingTexts(texts=["x"])
        )
    )
    grpc_event = await _event_for(stack, typed.CreateEmbeddings(request, metadata=auth))
    assert grpc_event.surface == "grpc"


async def test_embeddings_route_only_to_embedding_models(stack: RouterStack) -> None:
    auth = (("authorization", f"Bearer {CLIENT_KEY}"),)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.stub.Embeddings(_body({"model": "mock/echo", "input": "x"}), metadata=auth)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "embeddings" in (caught.value.details() or "")
    reply = await stack.stub.Embeddings(
        _body({"model": "mock/embed", "input": [[1, 2], [3]], "dimensions": 4}), metadata=auth
    )
    data = orjson.loads(reply.data)["data"]
    assert [len(item["embedding"]) for item in data] == [4, 4]
