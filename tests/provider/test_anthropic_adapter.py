"""The Anthropic adapter end to end: the provider service's pooled HTTP client against
the Anthropic emulator (127.0.0.1, port 0), for generate, stream, every error status,
faults, cancellation, and the key never leaking."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from services.kernel.errors import GatewayError
from services.provider.adapters.anthropic import PROVIDER, AnthropicAdapter
from services.provider.adapters.anthropic.translate import translate_request
from services.provider.adapters.base import (
    Call,
    Capability,
    Chunk,
    Credential,
    Operation,
    StreamEnd,
)
from services.provider.http import PooledHttp
from services.provider.registry import find
from services.provider.settings import ProviderConfig
from tests.emulators.anthropic import AnthropicEmulator, Fault, Reply, text, tool_use

SECRET = "sk-ant-api03-adapter-test-secret-key"
CREATED = 1767225600
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
PARALLEL = Reply(
    content=[
        text("Checking both."),
        tool_use("toolu_01", "get_weather", {"city": "Paris"}),
        tool_use("toolu_02", "get_weather", {"city": "Tokyo", "days": [1, 2]}),
    ],
    stop_reason="tool_use",
    input_tokens=30,
    cache_read_input_tokens=1000,
    cache_creation_input_tokens=200,
    output_tokens=55,
    json_chunk=4,
)


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
            yield Rig(emu, AnthropicAdapter(http, clock=lambda: float(CREATED)))
        finally:
            await http.close()


def _call(body: dict[str, Any], operation: Operation = Operation.CHAT, **kw: Any) -> Call:
    return Call(
        operation=operation,
        body={"model": "claude", **body},
        upstream_model="claude-sonnet-4-5",
        response_model="claude",
        request_id="req-test",
        default_max_tokens=kw.pop("default_max_tokens", 256),
        credential=kw.pop("credential", Credential("key_1", SECRET)),
    )


HI = {"messages": [{"role": "user", "content": "Hi"}]}


async def _drain(adapter: AnthropicAdapter, call: Call) -> tuple[list[dict[str, Any]], StreamEnd]:
    chunks: list[dict[str, Any]] = []
    ends: list[StreamEnd] = []
    async for item in adapter.stream(call):
        if isinstance(item, Chunk):
            assert not ends, "nothing may follow StreamEnd"
            chunks.append(item.body)
        else:
            ends.append(item)
    assert len(ends) == 1
    return chunks, ends[0]


async def test_generate_sends_the_exact_request(rig: Rig) -> None:
    call = _call({**HI, "temperature": 0.3, "stop": "END", "user": "u-1"})
    result = await rig.adapter.generate(call)
    sent = rig.emu.last
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == SECRET
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.headers["content-type"] == "application/json"
    assert "authorization" not in sent.headers
    assert sent.body == translate_request(call)
    assert result.body["choices"][0]["message"]["content"] == "Hello from the emulator."
    assert result.body["created"] == CREATED
    assert result.body["model"] == "claude"
    assert result.usage.prompt_tokens == 12
    assert result.rate_limits["anthropic-ratelimit-requests-remaining"] == "3999"
    assert result.timing.total_ms >= result.timing.first_byte_ms >= 0


def _fn(call_id: str, city: str) -> dict[str, Any]:
    arguments = orjson.dumps({"city": city}).decode()
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": "get_weather", "arguments": arguments},
    }


async def test_generate_tool_round_trip_and_parallel_calls(rig: Rig) -> None:
    rig.emu.enqueue(PARALLEL)
    messages = [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": "One moment.",
            "tool_calls": [_fn("t1", "A"), _fn("t2", "B")],
        },
        {"role": "tool", "tool_call_id": "t1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "t2", "content": "rain"},
    ]
    result = await rig.adapter.generate(_call({"messages": messages, "tools": [WEATHER]}))
    choice = result.body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "Checking both."
    calls = choice["message"]["tool_calls"]
    assert [(c["id"], orjson.loads(c["function"]["arguments"])) for c in calls] == [
        ("toolu_01", {"city": "Paris"}),
        ("toolu_02", {"city": "Tokyo", "days": [1, 2]}),
    ]
    assert (result.usage.prompt_tokens, result.usage.cached_tokens) == (1230, 1000)
    assert result.usage.cache_creation_tokens == 200
    assert result.body["usage"]["prompt_tokens_details"] == {"cached_tokens": 1000}


async def test_stream_parallel_tool_calls(rig: Rig) -> None:
    rig.emu.enqueue(PARALLEL)
    call = _call(
        {**HI, "tools": [WEATHER], "stream": True, "stream_options": {"include_usage": True}}
    )
    chunks, end = await _drain(rig.adapter, call)
    assert rig.emu.last.body["stream"] is True
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert len({(c["id"], c["created"], c["model"]) for c in chunks}) == 1
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["prompt_tokens"] == 1230
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks[:-1]:
        for delta in chunk["choices"][0]["delta"].get("tool_calls", []):
            entry = calls.setdefault(delta["index"], {"arguments": ""})
            entry.update({k: delta[k] for k in ("id",) if k in delta})
            entry.update({k: v for k, v in delta["function"].items() if k == "name"})
            entry["arguments"] += delta["function"]["arguments"]
    assert sorted(calls) == [0, 1]
    assert calls[0]["id"] == "toolu_01" and calls[1]["id"] == "toolu_02"
    assert orjson.loads(calls[1]["arguments"]) == {"city": "Tokyo", "days": [1, 2]}
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert (end.usage.prompt_tokens, end.usage.completion_tokens) == (1230, 55)
    assert end.rate_limits["anthropic-ratelimit-tokens-limit"] == "400000"
    assert end.timing.total_ms >= 0


async def test_stream_without_usage_chunk_still_ends_with_usage(rig: Rig) -> None:
    chunks, end = await _drain(rig.adapter, _call({**HI, "stream": True}))
    assert all(chunk["choices"] for chunk in chunks)
    text_out = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text_out == "Hello from the emulator."
    assert (end.usage.prompt_tokens, end.usage.completion_tokens) == (12, 6)


async def test_completions_generate_and_stream(rig: Rig) -> None:
    call = _call({"prompt": "Once", "max_tokens": 9}, Operation.COMPLETIONS)
    result = await rig.adapter.generate(call)
    assert result.body["object"] == "text_completion"
    assert result.body["choices"][0]["text"] == "Hello from the emulator."
    assert rig.emu.last.body["messages"] == [{"role": "user", "content": [text("Once")]}]
    stream_call = _call({"prompt": "Once", "stream": True}, Operation.COMPLETIONS)
    chunks, end = await _drain(rig.adapter, stream_call)
    assert "".join(c["choices"][0]["text"] for c in chunks) == "Hello from the emulator."
    assert {c["object"] for c in chunks} == {"text_completion"}
    assert end.usage.completion_tokens == 6


ERROR_TABLE = [
    (400, "", "upstream_bad_request", 400, False),
    (401, "", "provider_auth_failed", 502, False),
    (403, "", "provider_permission_denied", 502, False),
    (404, "", "upstream_not_found", 404, False),
    (413, "", "upstream_payload_too_large", 413, False),
    (429, "", "upstream_rate_limited", 429, True),
    (500, "", "upstream_server_error", 502, True),
    (529, "", "upstream_overloaded", 503, True),
    (500, "overloaded_error", "upstream_overloaded", 503, True),
]


@pytest.mark.parametrize("streaming", [False, True])
@pytest.mark.parametrize(("status", "kind", "code", "http_status", "retryable"), ERROR_TABLE)
async def test_error_statuses(
    rig: Rig, streaming: bool, status: int, kind: str, code: str, http_status: int, retryable: bool
) -> None:
    rig.emu.enqueue(Fault(status, type=kind, message="scripted failure", retry_after="7"))
    with pytest.raises(GatewayError) as caught:
        if streaming:
            await _drain(rig.adapter, _call({**HI, "stream": True}))
        else:
            await rig.adapter.generate(_call(HI))
    error = caught.value
    assert (error.code, error.http_status, error.retryable) == (code, http_status, retryable)
    assert "scripted failure" in error.message
    assert error.metadata["provider"] == "anthropic"
    assert error.metadata["upstream_request_id"].startswith("req_emu")
    assert error.retry_after_s == (7.0 if retryable else None)


async def test_the_key_never_leaks(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    rig.emu.enqueue(Fault(401, message=f"invalid x-api-key: {SECRET}"))
    with pytest.raises(GatewayError) as caught:
        await rig.adapter.generate(_call(HI))
    wrong = Credential("key_2", "sk-ant-api03-wrong-key-value")
    with pytest.raises(GatewayError) as rejected:
        await rig.adapter.generate(_call(HI, credential=wrong))
    for error in (caught.value, rejected.value):
        assert SECRET not in str(error) and SECRET not in repr(error)
        assert SECRET not in str(error.metadata)
        assert error.code == "provider_auth_failed"
    assert SECRET not in caplog.text
    assert SECRET not in repr(rig.adapter) and SECRET not in repr(_call(HI))


async def test_mid_stream_error_event_is_an_error_not_an_end(rig: Rig) -> None:
    rig.emu.enqueue(Reply(content=[text("Partial answer here")], error_after=5))
    seen: list[Chunk | StreamEnd] = []
    with pytest.raises(GatewayError) as caught:
        async for item in rig.adapter.stream(_call({**HI, "stream": True})):
            seen.append(item)
    assert caught.value.code == "upstream_overloaded"
    assert seen and not any(isinstance(item, StreamEnd) for item in seen)


async def test_disconnect_mid_stream_is_an_error(rig: Rig) -> None:
    rig.emu.enqueue(Reply(content=[text("Partial answer here")], disconnect_after=4))
    seen: list[Chunk | StreamEnd] = []
    with pytest.raises(GatewayError) as caught:
        async for item in rig.adapter.stream(_call({**HI, "stream": True})):
            seen.append(item)
    assert caught.value.retryable
    assert not any(isinstance(item, StreamEnd) for item in seen)


async def _until(predicate: Any) -> None:
    while not predicate():
        await asyncio.sleep(0.005)


async def test_slow_first_byte_waits(rig: Rig) -> None:
    rig.emu.enqueue(Reply(hold=True))
    task = asyncio.create_task(rig.adapter.generate(_call(HI)))
    await _until(lambda: rig.emu.requests)
    assert not task.done()
    rig.emu.release()
    result = await task
    assert result.body["choices"][0]["finish_reason"] == "stop"


async def test_cancelling_a_hung_stream_cancels_the_upstream_request(rig: Rig) -> None:
    rig.emu.enqueue(Reply(hang=True))

    async def consume() -> None:
        async for _ in rig.adapter.stream(_call({**HI, "stream": True})):
            pass

    task = asyncio.create_task(consume())
    await _until(lambda: rig.emu.requests)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await _until(lambda: rig.emu.cancelled)


@pytest.mark.parametrize(
    ("raw", "says"),
    [(b"<html>oops</html>", "not JSON"), (b'{"type": "completion"}', "not a Message")],
)
async def test_unreadable_success_body(rig: Rig, raw: bytes, says: str) -> None:
    rig.emu.enqueue(Fault(200, raw_body=raw))
    with pytest.raises(GatewayError) as caught:
        await rig.adapter.generate(_call(HI))
    assert caught.value.code == "upstream_invalid_response"
    assert says in caught.value.message


@pytest.mark.parametrize("streaming", [False, True])
async def test_refusals_and_missing_key_never_reach_the_upstream(rig: Rig, streaming: bool) -> None:
    for call, code in [
        (_call({**HI, "n": 3, "stream": streaming}), "unsupported_parameter"),
        (_call({**HI, "stream": streaming}, credential=None), "provider_not_configured"),
    ]:
        with pytest.raises(GatewayError) as caught:
            if streaming:
                await _drain(rig.adapter, call)
            else:
                await rig.adapter.generate(call)
        assert caught.value.code == code
    assert rig.emu.requests == []


def test_registered_with_its_settings() -> None:
    spec = find("anthropic")
    assert spec is PROVIDER
    assert (spec.api_key_env, spec.base_url_env) == ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL")
    assert spec.default_base_url == "https://api.anthropic.com"
    adapter = spec.factory(ProviderConfig(name="anthropic"), PooledHttp("anthropic", "http://x"))
    assert adapter.name == "anthropic"
    assert Capability.CAPABILITY_TOOLS in adapter.capabilities
    assert Capability.CAPABILITY_LOGPROBS not in adapter.capabilities
    assert Capability.CAPABILITY_MULTIPLE_CHOICES not in adapter.capabilities
