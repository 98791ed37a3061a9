"""Errors leave the router through the kernel's one interceptor: a raised
GatewayError becomes its status with the canonical details plus the OpenAI-shaped
body and HTTP status the edge serves; any other failure becomes INTERNAL quoting
the call's real request id."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import orjson
import pytest_asyncio
from agentopia.v1 import chat_pb2
from agentopia.v1 import inference_service_pb2 as inf_pb2
from agentopia.v1 import inference_service_pb2_grpc as inf_grpc
from agentopia.v1 import openai_compat_service_pb2 as oc_pb2
from agentopia.v1 import provider_service_pb2 as pv_pb2
from google.api import httpbody_pb2

from services.kernel.errors import MAX_FIELD_CHARS, MAX_MESSAGE_CHARS, GatewayError
from services.provider.client import ALL_CAPABILITIES
from services.router.errors import ERROR_BODY_KEY, HTTP_STATUS_KEY
from services.router.routing.capabilities import CHAT, STREAMING, VISION
from tests.router.peers import ProviderDouble
from tests.router.stack import CLIENT_KEY, RouterStack, provider_double, router_in_front_of

AUTH = ("authorization", f"Bearer {CLIENT_KEY}")


@dataclass
class Broken:
    stack: RouterStack
    provider: ProviderDouble


@pytest_asyncio.fixture(loop_scope="session")
async def broken() -> AsyncIterator[Broken]:
    """The demo provider as a double whose every answer is not JSON at all."""
    double = ProviderDouble(
        providers=[
            pv_pb2.ProviderInfo(name="mock", configured=True, capabilities=_every_demo_capability())
        ],
        response_json=b"\x00 not json",
    )
    async with provider_double(double) as target, router_in_front_of(target) as stack:
        yield Broken(stack, double)


def _every_demo_capability() -> list[int]:
    return sorted(ALL_CAPABILITIES)


def _trailers(error: grpc.aio.AioRpcError) -> dict[str, str | bytes]:
    return {key: value for key, value in error.trailing_metadata() or ()}


async def test_an_openai_surface_error_carries_the_edge_body(broken: Broken) -> None:
    body = {"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]}
    call = broken.stack.stub.ChatCompletions(
        httpbody_pb2.HttpBody(content_type="application/json", data=orjson.dumps(body)),
        metadata=(AUTH,),
    )
    try:
        await call.read()
    except grpc.aio.AioRpcError as error:
        trailers = _trailers(error)
        assert error.code() == grpc.StatusCode.NOT_FOUND
        assert trailers[HTTP_STATUS_KEY] == "404"
        edge_body = json.loads(trailers[ERROR_BODY_KEY])
        assert edge_body["error"]["code"] == "model_not_found"
        assert GatewayError.from_rpc_error(error).code == "model_not_found"
    else:
        raise AssertionError("an unknown model must fail")


async def test_an_unauthenticated_call_is_refused_with_the_edge_body(broken: Broken) -> None:
    try:
        await broken.stack.stub.Models(oc_pb2.ModelsRequest(), timeout=10)
    except grpc.aio.AioRpcError as error:
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        assert _trailers(error)[HTTP_STATUS_KEY] == "401"
    else:
        raise AssertionError("a call without a key must fail")


async def test_an_unexpected_failure_on_the_typed_path_quotes_the_request_id(
    broken: Broken,
) -> None:
    stub = inf_grpc.InferenceServiceStub(broken.stack.channel)
    request = chat_pb2.ChatCompletionRequest(model="mock/echo")
    request.messages.add(role="user", text="hi")
    try:
        await stub.CreateChatCompletion(
            inf_pb2.CreateChatCompletionRequest(request=request),
            metadata=(AUTH, ("x-request-id", "req-typed-1234")),
            timeout=10,
        )
    except grpc.aio.AioRpcError as error:
        assert error.code() == grpc.StatusCode.INTERNAL
        failure = GatewayError.from_rpc_error(error)
        assert failure.code == "internal_error"
        assert "quote request id req-typed-1234" in failure.message
        assert failure.metadata["request_id"] == "req-typed-1234"
    else:
        raise AssertionError("a response that is not JSON must fail")
    assert broken.provider.calls[-1].request_id == "req-typed-1234"


async def test_typed_models_carry_capabilities_as_the_enum(broken: Broken) -> None:
    stub = inf_grpc.InferenceServiceStub(broken.stack.channel)
    reply = await stub.GetModel(inf_pb2.GetModelRequest(model="mock/echo"), metadata=(AUTH,))
    assert {CHAT, STREAMING, VISION} <= set(reply.model.capabilities)
    listed = await stub.ListModels(inf_pb2.ListModelsRequest(), metadata=(AUTH,))
    assert any(m.id == "mock/echo" and m.capabilities for m in listed.models)


async def test_client_strings_quoted_in_errors_are_clipped(broken: Broken) -> None:
    """A 60 KB model name or field name must come back as its own 4xx — with the quote
    clipped — not as a 5xx because the error outgrew the trailers it travels in."""
    long_name = "m" * 60_000
    cases = [
        ({"model": f"mock/{long_name}", "messages": [{"role": "user", "content": "hi"}]}, 404),
        (
            {
                "model": "mock/echo",
                "messages": [{"role": "user", "content": "hi"}],
                "agentopia": {"requirements": {long_name: 1}},
            },
            400,
        ),
    ]
    for body, status in cases:
        call = broken.stack.stub.ChatCompletions(
            httpbody_pb2.HttpBody(content_type="application/json", data=orjson.dumps(body)),
            metadata=(AUTH,),
        )
        try:
            await call.read()
        except grpc.aio.AioRpcError as error:
            trailers = _trailers(error)
            assert trailers[HTTP_STATUS_KEY] == str(status)
            failure = GatewayError.from_rpc_error(error)
            assert len(failure.message) <= MAX_MESSAGE_CHARS
            assert failure.message.endswith("…") or long_name not in failure.message
            assert len(trailers[ERROR_BODY_KEY]) < 8 * 1024
        else:
            raise AssertionError("the request must fail")


def test_every_field_of_an_error_is_bounded() -> None:
    error = GatewayError(
        grpc.StatusCode.INVALID_ARGUMENT,
        "invalid_request",
        "x" * 10_000,
        param="p" * 10_000,
        metadata={"quoted": "q" * 10_000, "short": "ok"},
    )
    assert len(error.message) == MAX_MESSAGE_CHARS and error.message.endswith("…")
    assert error.param is not None and len(error.param) == MAX_FIELD_CHARS
    assert len(error.metadata["quoted"]) == MAX_FIELD_CHARS
    assert error.metadata["short"] == "ok"
    assert len(error.to_status_proto().SerializeToString()) < 4 * 1024
