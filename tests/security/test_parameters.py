"""Pass-through parameters that change where data goes or what it costs (`store`,
`service_tier`, `metadata`) need the client key's allowance, checked in the router
before anything is admitted or sent: 403 `parameter_not_allowed` naming it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import orjson
import pytest
from google.api import httpbody_pb2

from keyvault.client.parameters import used_parameters
from services.kernel.errors import GatewayError
from tests.router.peers import CLIENT_KEY, TRUSTED_KEY
from tests.router.stack import RouterStack, router_stack


@pytest.fixture
async def stack() -> AsyncIterator[RouterStack]:
    async with router_stack({}) as running:
        yield running


async def _chat(stack: RouterStack, key: str, **extra: Any) -> list[bytes]:
    body = {"model": "mock/echo", "messages": [{"role": "user", "content": "hi"}], **extra}
    call = stack.stub.ChatCompletions(
        httpbody_pb2.HttpBody(content_type="application/json", data=orjson.dumps(body)),
        metadata=(("authorization", f"Bearer {key}"),),
        timeout=30,
    )
    return [bytes(message.data) async for message in call]


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"store": True}, "store"),
        ({"service_tier": "priority"}, "service_tier"),
        ({"metadata": {"project": "x"}}, "metadata"),
        ({"stream": True, "service_tier": "flex"}, "service_tier"),
    ],
)
async def test_a_governed_parameter_needs_the_key_s_allowance(
    stack: RouterStack, extra: dict[str, Any], named: str
) -> None:
    before = len(stack.metrics.events)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _chat(stack, CLIENT_KEY, **extra)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    error = GatewayError.from_rpc_error(caught.value)
    assert (error.code, error.param) == ("parameter_not_allowed", named)
    assert len(stack.metrics.events) == before  # refused before anything was spent
    assert await _chat(stack, TRUSTED_KEY, **extra)


@pytest.mark.parametrize(
    "extra", [{"store": False}, {"service_tier": "auto"}, {"metadata": {}}, {"metadata": None}]
)
async def test_default_values_are_not_governed(stack: RouterStack, extra: dict[str, Any]) -> None:
    assert used_parameters(extra) == ()
    assert await _chat(stack, CLIENT_KEY, **extra)
