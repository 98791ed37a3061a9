"""The Anthropic adapter's Messages pass-through, over real HTTP against the emulator:
the client's body reaches the upstream unchanged but for `model`, the answer comes
back unchanged but for `model`, streams are relayed event by event with their usage
read on the side, `anthropic-beta` is forwarded, and count_tokens asks the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from services.kernel.errors import GatewayError
from services.provider.adapters.anthropic import AnthropicAdapter
from services.provider.adapters.base import (
    Call,
    Chunk,
    Credential,
    Operation,
    StreamEnd,
    Surface,
    native_surfaces,
)
from services.provider.http import PooledHttp
from tests.emulators._anthropic_wire import count_tokens
from tests.emulators.anthropic import AnthropicEmulator, Reply, text, thinking, tool_use

SECRET = "sk-ant-api03-native-test-secret-key"
EPHEMERAL = {"type": "ephemeral"}
DOCUMENT = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "d"}}
LOSSLESS: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 1024,
    "system": [
        {"type": "text", "text": "Policy.", "cache_control": {**EPHEMERAL, "ttl": "1h"}}
    ],
    "messages": [
        {"role": "user", "content": [{"type": "text", "text": "Q", "cache_control": EPHEMERAL}]},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig-1"},
                {"type": "redacted_thinking", "data": "opaque=="},
                {"type": "tool_use", "id": "toolu_1", "name": "w", "input": {"city": "Paris"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                DOCUMENT,
            ],
        },
    ],
    "tools": [{"name": "w", "input_schema": {"type": "object"}, "cache_control": EPHEMERAL}],
    "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
    "stop_sequences": ["END"],
    "metadata": {"user_id": "u-1"},
    "thinking": {"type": "enabled", "budget_tokens": 512},
}  # fmt: skip


@dataclass
class Rig:
    emu: AnthropicEmulator
    adapter: AnthropicAdapter


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with AnthropicEmulator(api_keys=(SECRET,)) as emu:
        http = PooledHttp("anthropic", emu.base_url)
        await http.start()
        try:
            yield Rig(emu, AnthropicAdapter(http))
        finally:
            await http.close()


def _call(body: dict[str, Any], headers: dict[str, str] | None = None) -> Call:
    return Call(
        operation=Operation.CHAT,
        body=body,
        upstream_model="claude-sonnet-4-5-20250929",
        response_model="anthropic/claude-sonnet-4-5",
        request_id="req-native",
        credential=Credential("key_1", SECRET),
        surface=Surface.MESSAGES,
        headers=headers or {},
    )


def test_the_adapter_declares_the_messages_surface(rig: Rig) -> None:
    assert native_surfaces(rig.adapter) == {Surface.MESSAGES}


async def test_the_body_goes_out_as_sent_but_for_the_model(rig: Rig) -> None:
    reply = Reply(
        content=[thinking("deep", "sig-2"), text("Done")],
        input_tokens=10,
        cache_read_input_tokens=100,
        cache_creation_input_tokens=20,
        output_tokens=7,
    )
    rig.emu.enqueue(reply)
    result = await rig.adapter.generate(_call(LOSSLESS))
    assert rig.emu.last.body == {**LOSSLESS, "model": "claude-sonnet-4-5-20250929"}
    assert result.body["content"] == [thinking("deep", "sig-2"), text("Done")]
    assert result.body["model"] == "anthropic/claude-sonnet-4-5"
    assert result.body["usage"]["cache_read_input_tokens"] == 100
    usage = result.usage
    assert (usage.prompt_tokens, usage.cached_tokens, usage.cache_creation_tokens) == (130, 100, 20)
    assert usage.completion_tokens == 7


async def test_beta_headers_are_forwarded_and_the_version_kept(rig: Rig) -> None:
    beta = "interleaved-thinking-2025-05-14,context-1m-2025-08-07"
    await rig.adapter.generate(_call(LOSSLESS, {"anthropic-beta": beta}))
    sent = rig.emu.last.headers
    assert sent["anthropic-beta"] == beta
    assert sent["anthropic-version"] == "2023-06-01"
    assert sent["x-api-key"] == SECRET


async def test_a_stream_is_relayed_event_by_event_with_its_usage(rig: Rig) -> None:
    reply = Reply(
        content=[thinking("step", "sig-3"), text("Hi there"), tool_use("toolu_9", "w", {"a": 1})],
        stop_reason="tool_use",
        input_tokens=5,
        cache_read_input_tokens=50,
        output_tokens=12,
    )  # fmt: skip
    rig.emu.enqueue(reply)
    items = [item async for item in rig.adapter.stream(_call({**LOSSLESS, "stream": True}))]
    chunks = [item for item in items if isinstance(item, Chunk)]
    end = items[-1]
    assert isinstance(end, StreamEnd)
    names = [chunk.event for chunk in chunks]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    assert "ping" in names
    deltas = [c.body["delta"]["type"] for c in chunks if c.event == "content_block_delta"]
    assert {"thinking_delta", "signature_delta", "text_delta", "input_json_delta"} <= set(deltas)
    assert chunks[0].body["message"]["model"] == "anthropic/claude-sonnet-4-5"
    assert rig.emu.last.body["stream"] is True
    assert (end.usage.prompt_tokens, end.usage.cached_tokens, end.usage.completion_tokens) == (
        55,
        50,
        12,
    )


async def test_an_error_event_mid_stream_is_an_error(rig: Rig) -> None:
    rig.emu.enqueue(Reply(content=[text("partial answer")], error_after=3))
    with pytest.raises(GatewayError) as caught:
        async for _ in rig.adapter.stream(_call({**LOSSLESS, "stream": True})):
            pass
    assert caught.value.retryable


async def test_count_tokens_asks_the_api(rig: Rig) -> None:
    body = {key: LOSSLESS[key] for key in ("model", "system", "messages", "tools", "thinking")}
    tokens = await rig.adapter.count_tokens(_call({**body, "max_tokens": 5}))
    sent = rig.emu.last
    assert sent.path == "/v1/messages/count_tokens"
    assert "max_tokens" not in sent.body  # not a count_tokens field
    assert tokens == count_tokens(sent.body) > 0
