"""Shared helpers for the mock provider's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.kernel.errors import GatewayError
from services.provider.adapters.base import GATEWAY_KEY, Call, Chunk, Operation, StreamEnd
from services.provider.adapters.mock import PROVIDER, MockAdapter, MockProfiles
from services.provider.settings import DEFAULT_TIMEOUTS, Timeouts

__all__ = ["TIME", "USER", "WEATHER", "drain", "fails", "make_call", "mock"]

USER = {"role": "user", "content": "What is the weather in Paris?"}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1},
                "when": {"type": "string", "format": "date"},
                "optional": {"type": "boolean"},
            },
            "required": ["city", "unit", "days", "when"],
        },
    },
}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}


def make_call(
    body: dict[str, Any], *, op: Operation = Operation.CHAT, model: str = "mock/test"
) -> Call:
    # As the provider servicer does: reserved keys travel beside the body, not in it.
    reserved = (GATEWAY_KEY, PROVIDER.request_key)
    extensions = {key: body[key] for key in reserved if key in body}
    body = {key: value for key, value in body.items() if key not in reserved}
    return Call(
        op,
        body,
        upstream_model=model,
        response_model="alias",
        request_id="req-1",
        extensions=extensions,
    )


def mock(
    profiles: dict[str, str] | None = None, *, timeouts: Timeouts = DEFAULT_TIMEOUTS
) -> MockAdapter:
    return MockAdapter(
        MockProfiles.from_env(profiles or {}), timeouts=timeouts, clock=lambda: 1_700_000_000.5
    )


async def drain(stream: AsyncIterator[Chunk | StreamEnd]) -> tuple[list[dict[str, Any]], StreamEnd]:
    chunks: list[dict[str, Any]] = []
    end: StreamEnd | None = None
    async for item in stream:
        assert end is None, "nothing may follow StreamEnd"
        if isinstance(item, StreamEnd):
            end = item
        else:
            chunks.append(item.body)
    assert end is not None
    return chunks, end


async def fails(awaitable: Any) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        await awaitable
    return caught.value
