"""What a client sends the gateway for its own tracing stays with the gateway: the
upstream provider gets a `traceparent` of the gateway's own span, never the client's
`baggage` or `tracestate`, nor the client's parent span id."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import pytest
from agentopia.v1 import openai_compat_service_pb2_grpc as oc_grpc
from google.api import httpbody_pb2

from tests.emulators.openai_compat import OpenAICompatEmulator
from tests.router.stack import CLIENT_KEY, RouterStack, router_stack
from tests.support.tracing import installed_tracer_provider

PROVIDER_KEY = "sk-upstream-secret-for-header-test"
CLIENT_PARENT = "00f067aa0ba902b7"
CLIENT_TRACEPARENT = f"00-4bf92f3577b34da6a3ce929d0e0e4736-{CLIENT_PARENT}-01"


@pytest.fixture
async def stack() -> AsyncIterator[tuple[RouterStack, OpenAICompatEmulator]]:
    installed_tracer_provider()  # trace context flows only when a tracer is installed
    async with OpenAICompatEmulator("openai", api_keys=(PROVIDER_KEY,)) as upstream:
        env = {"OPENAI_API_KEY": PROVIDER_KEY, "OPENAI_BASE_URL": upstream.base_url}
        async with router_stack(env) as running:
            yield running, upstream


@pytest.mark.parametrize("stream", [False, True])
async def test_client_trace_headers_do_not_reach_the_provider(
    stack: tuple[RouterStack, OpenAICompatEmulator], stream: bool
) -> None:
    running, upstream = stack
    body = {
        "model": "openai/gpt-4o-mini",
        "stream": stream,
        "messages": [{"role": "user", "content": "hi"}],
    }
    call = oc_grpc.OpenAICompatServiceStub(running.channel).ChatCompletions(
        httpbody_pb2.HttpBody(content_type="application/json", data=orjson.dumps(body)),
        metadata=[
            ("authorization", f"Bearer {CLIENT_KEY}"),
            ("traceparent", CLIENT_TRACEPARENT),
            ("tracestate", "client=private-value"),
            ("baggage", "user.email=alice@example.com"),
        ],
        timeout=30,
    )
    assert [message async for message in call]
    headers = {name.lower(): value for name, value in upstream.last.headers.items()}
    assert "baggage" not in headers
    assert "tracestate" not in headers
    assert "alice" not in str(headers) and "private-value" not in str(headers)
    assert headers["traceparent"].split("-")[2] != CLIENT_PARENT
