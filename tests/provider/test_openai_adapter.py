"""The OpenAI adapter end to end over HTTP: adapter -> PooledHttp -> OpenAI emulator."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from services.kernel.errors import GatewayError
from services.provider.adapters import openai
from services.provider.adapters.base import (
    Adapter,
    Call,
    Chunk,
    Credential,
    Operation,
    StreamEnd,
    Usage,
)
from services.provider.adapters.openai_compat import OpenAICompatAdapter
from services.provider.http import PooledHttp
from services.provider.settings import ProviderConfig, Timeouts
from tests.emulators.openai_compat import Fault, OpenAICompatEmulator, Reply, ToolCall
from tests.provider.core_support import REDACTOR

KEY = "sk-proj-emulatorKey0123456789abcdef"
MODEL = "gpt-4o-mini-2024-07-18"


@pytest.fixture
async def emu() -> AsyncIterator[OpenAICompatEmulator]:
    async with OpenAICompatEmulator("openai", api_keys=(KEY,)) as emulator:
        yield emulator


@pytest.fixture
async def http(emu: OpenAICompatEmulator) -> AsyncIterator[PooledHttp]:
    pool = PooledHttp("openai", emu.base_url, timeouts=Timeouts(first_byte_s=30.0))
    await pool.start()
    yield pool
    await pool.close()


@pytest.fixture
def adapter(http: PooledHttp) -> OpenAICompatAdapter:
    return OpenAICompatAdapter(openai.SPEC, http, redactor=REDACTOR)


def call(body: dict[str, Any], *, op: Operation = Operation.CHAT, key: str = KEY) -> Call:
    return Call(
        operation=op,
        body=body,
        upstream_model=MODEL,
        response_model="mini",
        request_id="req-1",
        credential=Credential(key_id="key_1", secret=key) if key else None,
    )


def chat(**extra: Any) -> dict[str, Any]:
    return {"model": "mini", "messages": [{"role": "user", "content": "Hello there"}]} | extra


async def collect(adapter: Adapter, c: Call) -> tuple[list[dict[str, Any]], StreamEnd]:
    items = [item async for item in adapter.stream(c)]
    *chunks, end = items
    assert isinstance(end, StreamEnd)
    assert all(isinstance(chunk, Chunk) for chunk in chunks)
    return [chunk.body for chunk in chunks if isinstance(chunk, Chunk)], end


# ---- complete responses ----


async def test_generate_sends_the_exact_request(
    adapter: OpenAICompatAdapter, emu: OpenAICompatEmulator
) -> None:
    result = await adapter.generate(call(chat(temperature=0.3, x_unknown={"a": 1})))
    sent = emu.last
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.headers["content-type"] == "application/json"
    assert sent.body == chat(temperature=0.3, x_unknown={"a": 1}) | {"model": MODEL}
    assert result.body["model"] == "mini"
    assert result.body["object"] == "chat.completion"
    assert result.body["choices"][0]["message"]["content"] == "Hello! How can I help you today?"
    assert result.usage == Usage(prompt_tokens=8, completion_tokens=7)
    assert result.rate_limits["x-ratelimit-limit-requests"] == "10000"
    assert set(result.rate_limits) >= {
        f"x-ratelimit-{kind}-{unit}"
        for kind in ("limit", "remaining", "reset")
        for unit in ("requests", "tokens")
    }
    assert result.timing.total_ms >= result.timing.first_byte_ms >= 0


async def test_registry_factory_falls_back_to_the_configured_key(
    http: PooledHttp, emu: OpenAICompatEmulator
) -> None:
    config = ProviderConfig(name="openai", base_url=emu.base_url, api_key=KEY)
    built = openai.PROVIDER.factory(config, http)
    assert built.name == "openai"
    result = await built.generate(call(chat(), key=""))
    assert result.body["model"] == "mini"
    assert emu.last.headers["authorization"] == f"Bearer {KEY}"


async def test_the_calls_credential_wins_over_the_configured_key(
    http: PooledHttp, emu: OpenAICompatEmulator
) -> None:
    keyed = OpenAICompatAdapter(openai.SPEC, http, api_key="sk-stale-configured-key")
    await keyed.generate(call(chat()))
    assert emu.last.headers["authorization"] == f"Bearer {KEY}"


async def test_no_credential_at_all_fails_before_any_request(
    adapter: OpenAICompatAdapter, emu: OpenAICompatEmulator
) -> None:
    with pytest.raises(GatewayError) as caught:
        await adapter.generate(call(chat(), key=""))
    assert caught.value.code == "provider_not_configured"
    assert "OPENAI_API_KEY" in caught.value.message
    assert emu.requests == []


async def test_tools_images_and_json_schema_pass_through(
    adapter: OpenAICompatAdapter, emu: OpenAICompatEmulator
) -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    schema = {"type": "json_schema", "json_schema": {"name": "s", "schema": {"type": "object"}}}
    content = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
    ]
    body = chat(tools=[tool], tool_choice="required", parallel_tool_calls=False)
    body |= {"response_format": schema, "messages": [{"role": "user", "content": content}]}
    emu.enqueue(Reply(text=None, tool_calls=(ToolCall(name="f", arguments='{"x":1}'),)))
    result = await adapter.generate(call(body))
    assert emu.last.body == body | {"model": MODEL}
    choice = result.body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["tool_calls"][0]["function"] == {"name": "f", "arguments": '{"x":1}'}


async def test_n_and_logprobs(adapter: OpenAICompatAdapter, emu: OpenAICompatEmulator) -> None:
    emu.enqueue(Reply(texts=("Yes", "Yes indeed")))
    result = await adapter.generate(call(chat(n=2, logprobs=True, top_logprobs=2)))
    choices = result.body["choices"]
    assert [c["message"]["content"] for c in choices] == ["Yes", "Yes indeed"]
    assert len(choices[1]["logprobs"]["content"][0]["top_logprobs"]) == 2


async def test_usage_with_cached_and_reasoning_tokens(
    adapter: OpenAICompatAdapter, emu: OpenAICompatEmulator
) -> None:
    emu.enqueue(Reply(prompt_tokens=2006, completion_tokens=1300, cached_tokens=1920,
                      reasoning_tokens=1024))  # fmt: skip
    result = await adapter.generate(call(chat()))
    assert result.usage == Usage(2006, 1300, cached_tokens=1920, reasoning_tokens=1024)


async def test_legacy_completions(adapter: OpenAICompatAdapter, emu: OpenAICompatEmulator) -> None:
    body = {"model": "instruct", "prompt": "Say this is a test", "max_tokens": 7, "logprobs": 1}
    result = await adapter.generate(call(body, op=Operation.COMPLETIONS))
    assert emu.last.path == "/v1/completions"
    assert emu.last.body == body | {"model": MODEL}
    assert result.body["object"] == "text_completion"
    assert result.body["model"] == "mini"
    assert result.body["choices"][0]["logprobs"]["tokens"]
    chunks, end = await collect(adapter, call(body | {"stream": True}, op=Operation.COMPLETIONS))
    assert "".join(c["choices"][0]["text"] for c in chunks) == "Hello! How can I help you today?"
    assert {c["object"] for c in chunks} == {"text_completion"}
    assert end.usage.completion_tokens == 7


# ---- upstream errors ----


async def test_a_rejected_key_is_our_fault_and_never_echoed(
    adapter: OpenAICompatAdapter, emu: OpenAICompatEmulator
) -> None:
    wrong = "sk-proj-wrongKey9876543210zyxwv"
    with pytest.raises(GatewayError) as caught:
        await adapter.generate(call(chat(), key=wrong))
    err = caught.value
    assert (err.code, err.http_status, err.retryable) == ("provider_auth_failed", 502, False)
    text = f"{err} {err.metadata}"
    assert wrong not in text and wrong[-4:] not in text and "sk-" not in text
    assert err.metadata["upstream_code"] == "invalid_api_key"


@pytest.mark.parametrize(
    ("fault", "code", "status", "retryable"),
    [
        (Fault(status=429, retry_after="2"), "upstream_rate_limited",
         grpc.StatusCode.RESOURCE_EXHAUSTED, True),
        (Fault(status=429, type="insufficient_quota", code="insufficient_quota"),
         "provider_quota_exhausted", grpc.StatusCode.FAILED_PRECONDITION, False),
        (Fault(status=400, param="temperature", message="bad temperature"),
         "upstream_bad_request", grpc.StatusCode.INVALID_ARGUMENT, False),
        (Fault(status=404, code="model_not_found"), "upstream_not_found",
         grpc.StatusCode.NOT_FOUND, False),
        (Fault(status=500), "upstream_server_error", grpc.StatusCode.UNAVAILABLE, True),
        (Fault(status=503), "upstream_unavailable", grpc.StatusCode.UNAVAILABLE, True),
        (Fault(status=502, raw_body=b"<html>bad gateway</html>", content_type="text/html"),
         "upstream_bad_gateway", grpc.StatusCode.UNAVAILABLE, True),
    ],
)  # fmt: skip
@pytest.mark.parametrize("streaming", [False, True])
async def test_upstream_error_statuses(
    adapter: OpenAICompatAdapter,
    emu: OpenAICompatEmulator,
    fault: Fault,
    code: str,
    status: grpc.StatusCode,
    retryable: bool,
    streaming: bool,
) -> None:
    emu.enqueue(fault)
    with pytest.raises(GatewayError) as caught:
        if streaming:
            await collect(adapter, call(chat(stream=True)))
        else:
            await adapter.generate(call(chat()))
    err = caught.value
    assert (err.code, err.status, err.retryable) == (code, status, retryable)
    if fault.retry_after:
        assert err.retry_after_s == float(fault.retry_after)
    if fault.param:
        assert err.param == fault.param


async def test_an_error_inside_a_200_is_still_an_error(
    adapter: OpenAICompatAdapter, emu: OpenAICompatEmulator
) -> None:
    body = b'{"error": {"message": "overloaded", "type": "server_error", "code": null}}'
    emu.enqueue(Fault(status=200, raw_body=body))
    with pytest.raises(GatewayError) as caught:
        await adapter.generate(call(chat()))
    assert caught.value.retryable


async def test_a_200_that_is_not_json(
    adapter: OpenAICompatAdapter, emu: OpenAICompatEmulator
) -> None:
    emu.enqueue(Fault(status=200, raw_body=b"<html>", content_type="text/html"))
    with pytest.raises(GatewayError) as caught:
        await adapter.generate(call(chat()))
    assert caught.value.code == "upstream_invalid_response"


# ---- streams ----


async def test_stream_with_usage_asked(
    adapter: OpenAICompatAdapter, emu: OpenAICompatEmulator
) -> None:
    chunks, end = await collect(
        adapter, call(chat(stream=True, stream_options={"include_usage": True}))
    )
    assert emu.last.body["stream_options"] == {"include_usage": True}
    assert emu.last.headers["accept"] == "text/event-stream"
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert {c["id"] for c in chunks} == {chunks[0]["id"]}
    assert {c["model"] for c in chunks} == {"mini"}
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 15
    assert [c for c in chunks if not c["choices"]] == [chunks[-1]]
    assert end.usage == Usage(8, 7)
    assert end.rate_limits["x-ratelimit-remaining-requests"]
    assert end.timing.total_ms >= end.timing.first_byte_ms > 0


async def test_stream_without_usage_asked_still_accounts(
    adapter: OpenAICompatAdapter, emu: OpenAICompatEmulator
) -> None:
    chunks, end = await collect(adapter, call(chat(stream=True)))
    assert emu.last.body["stream_options"] == {"include_usage": True}
    assert all(c["choices"] for c in chunks)
    assert all("usage" not in c for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text == "Hello! How can I help you today?"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert end.usage == Usage(8, 7)


async def test_stream_parallel_tool_calls(
    adapter: OpenAICompatAdapter, emu: OpenAICompatEmulator
) -> None:
    calls = (
        ToolCall(name="get_weather", arguments='{"city": "Paris", "unit": "c"}'),
        ToolCall(name="get_time", arguments='{"tz": "Europe/Paris"}'),
    )
    emu.enqueue(Reply(text=None, tool_calls=calls))
    chunks, _ = await collect(adapter, call(chat(stream=True)))
    assembled: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for delta in chunk["choices"][0]["delta"].get("tool_calls") or []:
            slot = assembled.setdefault(delta["index"], {"id": "", "name": "", "arguments": ""})
            slot["id"] += delta.get("id", "")
            slot["name"] += delta.get("function", {}).get("name", "")
            slot["arguments"] += delta.get("function", {}).get("arguments", "")
    assert [assembled[i]["name"] for i in (0, 1)] == ["get_weather", "get_time"]
    assert json.loads(assembled[0]["arguments"]) == {"city": "Paris", "unit": "c"}
    assert json.loads(assembled[1]["arguments"]) == {"tz": "Europe/Paris"}
    assert assembled[0]["id"] != assembled[1]["id"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


async def test_stream_n2_interleaves_choices(
    adapter: OpenAICompatAdapter, emu: OpenAICompatEmulator
) -> None:
    emu.enqueue(Reply(texts=("a b", "c d e")))
    chunks, _ = await collect(adapter, call(chat(stream=True, n=2)))
    texts = ["", ""]
    for chunk in chunks:
        (choice,) = chunk["choices"]
        texts[choice["index"]] += choice["delta"].get("content") or ""
    assert texts == ["a b", "c d e"]
    assert [c["choices"][0]["index"] for c in chunks[:2]] == [0, 1]


async def test_in_band_error_after_chunks(
    adapter: OpenAICompatAdapter, emu: OpenAICompatEmulator
) -> None:
    emu.enqueue(Reply(error_after=2))
    received: list[Chunk | StreamEnd] = []
    with pytest.raises(GatewayError) as caught:
        async for item in adapter.stream(call(chat(stream=True))):
            received.append(item)
    assert len(received) == 2
    assert caught.value.code == "upstream_server_error" and caught.value.retryable


async def test_mid_stream_disconnect_is_an_error_not_a_clean_end(
    adapter: OpenAICompatAdapter, emu: OpenAICompatEmulator
) -> None:
    emu.enqueue(Reply(disconnect_after=3))
    received: list[Chunk | StreamEnd] = []
    with pytest.raises(GatewayError) as caught:
        async for item in adapter.stream(call(chat(stream=True))):
            received.append(item)
    assert len(received) == 3 and not any(isinstance(i, StreamEnd) for i in received)
    assert caught.value.retryable


async def test_leaving_a_stream_early_cancels_the_upstream(
    adapter: OpenAICompatAdapter, emu: OpenAICompatEmulator
) -> None:
    emu.enqueue(Reply(stall_after=2))
    stream = adapter.stream(call(chat(stream=True)))
    assert isinstance(stream, AsyncIterator)
    first = await anext(stream)
    assert isinstance(first, Chunk)
    await stream.aclose()  # type: ignore[attr-defined]
    while emu.cancelled == 0:  # the emulator sees the connection go away
        await asyncio.sleep(0.01)


async def test_a_hanging_upstream_times_out(emu: OpenAICompatEmulator) -> None:
    pool = PooledHttp("openai", emu.base_url, timeouts=Timeouts(first_byte_s=0.2))
    await pool.start()
    try:
        emu.enqueue(Reply(hang=True))
        with pytest.raises(GatewayError) as caught:
            await OpenAICompatAdapter(openai.SPEC, pool).generate(call(chat()))
        assert caught.value.code == "upstream_timeout" and caught.value.retryable
    finally:
        await pool.close()


async def test_slow_first_byte_still_answers(
    adapter: OpenAICompatAdapter, emu: OpenAICompatEmulator
) -> None:
    emu.enqueue(Reply(hold=True))
    pending = asyncio.ensure_future(collect(adapter, call(chat(stream=True))))
    while not emu.requests:
        await asyncio.sleep(0.01)
    assert not pending.done()
    emu.release()
    chunks, end = await pending
    assert chunks and end.usage.total_tokens == 15
