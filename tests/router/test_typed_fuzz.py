"""Property-based fuzzing of the typed gRPC API (InferenceService) against the real
router and provider service over loopback: whatever a client puts in a
ChatCompletionRequest — odd roles, empty or huge strings, NaN and infinite numbers,
negative and enormous token counts, unknown models, tools without names — the answer
is a completion or a status with a stable error code, never INTERNAL or UNKNOWN, never
a hang, and never a secret."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
import pytest_asyncio
from agentopia.v1 import chat_pb2
from agentopia.v1 import inference_service_pb2 as inf_pb2
from agentopia.v1 import inference_service_pb2_grpc as inf_grpc
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from services.kernel.errors import GatewayError
from tests.router.stack import ADMIN_KEY, CLIENT_KEY, RouterStack, router_stack

pytestmark = pytest.mark.asyncio(loop_scope="session")

CALL_TIMEOUT_S = 30.0  # a call that needs it is a hang, reported as a failure
_REFUSED_AS_BUGS = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}

_text = st.text(max_size=40) | st.just("") | st.text(min_size=2000, max_size=2000)
_number = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, -1.0, 3.0])
_count = st.integers(min_value=-(2**31), max_value=2**31 - 1) | st.sampled_from([0, 1, 2, 128])
_model = st.sampled_from(["mock/echo", "mock/large", "auto", "mock/no-such", "", "demo-failover"])
_role = st.sampled_from(["user", "system", "assistant", "tool", "developer", "", "wizard"])


@st.composite
def _message(draw: st.DrawFn) -> chat_pb2.ChatMessage:
    message = chat_pb2.ChatMessage(role=draw(_role))
    if draw(st.booleans()):
        message.text = draw(_text)
    if draw(st.booleans()):
        message.tool_call_id = draw(_text)
    return message


@st.composite
def _request(draw: st.DrawFn) -> chat_pb2.ChatCompletionRequest:
    request = chat_pb2.ChatCompletionRequest(model=draw(_model))
    request.messages.extend(draw(st.lists(_message(), max_size=4)))
    for field, strategy in (
        ("temperature", _number),
        ("top_p", _number),
        ("presence_penalty", _number),
        ("n", _count),
        ("max_tokens", _count),
        ("max_completion_tokens", _count),
        ("top_logprobs", _count),
        ("user", _text),
        ("reasoning_effort", _text),
        ("service_tier", _text),
    ):
        if draw(st.booleans()):
            setattr(request, field, draw(strategy))
    request.stop.extend(draw(st.lists(_text, max_size=3)))
    if draw(st.booleans()):
        tool = request.tools.add()
        tool.function.name = draw(_text)
    return request


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def stack() -> AsyncIterator[RouterStack]:
    async with router_stack({}) as running:
        yield running


def _generated(count: int) -> list[chat_pb2.ChatCompletionRequest]:
    """`count` requests drawn by Hypothesis (generation only: the calls are async, so
    they are made afterwards, and a failure is reported with its request)."""
    drawn: list[chat_pb2.ChatCompletionRequest] = []

    @settings(
        max_examples=count,
        deadline=None,
        phases=(Phase.generate,),
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(_request())
    def collect(request: chat_pb2.ChatCompletionRequest) -> None:
        drawn.append(request)

    collect()
    return drawn


@pytest.mark.parametrize("key", [CLIENT_KEY, ADMIN_KEY])
async def test_no_request_is_an_internal_error_a_hang_or_a_leak(
    stack: RouterStack, key: str
) -> None:
    stub = inf_grpc.InferenceServiceStub(stack.channel)
    failures: list[str] = []
    for request in _generated(60):
        try:
            reply = await stub.CreateChatCompletion(
                inf_pb2.CreateChatCompletionRequest(request=request),
                metadata=(("authorization", f"Bearer {key}"),),
                timeout=CALL_TIMEOUT_S,
            )
        except grpc.aio.AioRpcError as error:
            if error.code() is grpc.StatusCode.DEADLINE_EXCEEDED:
                failures.append(f"no answer in {CALL_TIMEOUT_S}s: {request}")
                continue
            failure = GatewayError.from_rpc_error(error)
            if error.code() in _REFUSED_AS_BUGS:
                failures.append(
                    f"{error.code().name} {failure.code}: {failure.message[:200]} for {request}"
                )
            text = f"{failure.message} {failure.metadata}"
        else:
            text = str(reply)
        if CLIENT_KEY in text or ADMIN_KEY in text:
            failures.append(f"a key is in the answer to {request}")
    assert not failures, "\n".join(sorted(set(failures))[:10])
