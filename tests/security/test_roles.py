"""Viewer keys are read-only: every inference surface refuses them with
PERMISSION_DENIED `role_not_allowed` (403 through the edge), while listing models
and the other reads stay open. Client and admin keys may call inference."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import orjson
import pytest
from agentopia.v1 import chat_pb2, inference_service_pb2, inference_service_pb2_grpc
from agentopia.v1 import openai_compat_service_pb2 as oc_pb2
from google.api import httpbody_pb2

from services.kernel.errors import GatewayError
from tests.router.peers import ADMIN_KEY, CLIENT_KEY, VIEWER_KEY
from tests.router.stack import RouterStack, router_stack


@pytest.fixture
async def stack() -> AsyncIterator[RouterStack]:
    async with router_stack({}) as running:
        yield running


def _auth(key: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {key}"),)


def _chat(stream: bool) -> httpbody_pb2.HttpBody:
    body = {"model": "mock/echo", "stream": stream, "messages": [{"role": "user", "content": "hi"}]}
    return httpbody_pb2.HttpBody(content_type="application/json", data=orjson.dumps(body))


async def _openai_chat(stack: RouterStack, key: str, stream: bool) -> list[bytes]:
    call = stack.stub.ChatCompletions(_chat(stream), metadata=_auth(key), timeout=30)
    return [bytes(body.data) async for body in call]


@pytest.mark.parametrize("stream", [False, True])
async def test_a_viewer_key_cannot_call_chat_completions(stack: RouterStack, stream: bool) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _openai_chat(stack, VIEWER_KEY, stream)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert GatewayError.from_rpc_error(caught.value).code == "role_not_allowed"


@pytest.mark.parametrize("key", [CLIENT_KEY, ADMIN_KEY])
async def test_client_and_admin_keys_may_call_inference(stack: RouterStack, key: str) -> None:
    (body,) = await _openai_chat(stack, key, stream=False)
    assert orjson.loads(body)["object"] == "chat.completion"


async def test_a_viewer_key_cannot_call_the_typed_api(stack: RouterStack) -> None:
    typed = inference_service_pb2_grpc.InferenceServiceStub(stack.channel)
    request = inference_service_pb2.CreateChatCompletionRequest(
        request=chat_pb2.ChatCompletionRequest(
            model="mock/echo", messages=[chat_pb2.ChatMessage(role="user", text="hi")]
        )
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await typed.CreateChatCompletion(request, metadata=_auth(VIEWER_KEY), timeout=30)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert GatewayError.from_rpc_error(caught.value).code == "role_not_allowed"


async def test_a_viewer_key_may_still_list_models(stack: RouterStack) -> None:
    reply = await stack.stub.Models(oc_pb2.ModelsRequest(), metadata=_auth(VIEWER_KEY), timeout=30)
    assert orjson.loads(reply.data)["object"] == "list"
