"""The Groq entry end to end over HTTP: adapter -> PooledHttp -> emulator in Groq mode.

The emulator refuses what Groq's docs say Groq refuses
(https://console.groq.com/docs/openai), so a passing call proves we did not send it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from services.kernel.errors import GatewayError
from services.provider.adapters import groq
from services.provider.adapters.base import Call, Chunk, Credential, Operation, StreamEnd, Usage
from services.provider.http import PooledHttp
from services.provider.settings import ProviderConfig
from tests.emulators.openai_compat import Fault, OpenAICompatEmulator, Reply, ToolCall

KEY = "gsk_emulatorKey0123456789abcdefABCDEF"
MODEL = "llama-3.3-70b-versatile"


@pytest.fixture
async def emu() -> AsyncIterator[OpenAICompatEmulator]:
    async with OpenAICompatEmulator("groq", api_keys=(KEY,)) as emulator:
        yield emulator


@pytest.fixture
async def adapter(emu: OpenAICompatEmulator) -> AsyncIterator[Any]:
    pool = PooledHttp("groq", emu.base_url)
    await pool.start()
    yield groq.PROVIDER.factory(ProviderConfig(name="groq", base_url=emu.base_url), pool)
    await pool.close()


def call(body: dict[str, Any], *, op: Operation = Operation.CHAT, key: str = KEY) -> Call:
    return Call(
        operation=op,
        body=body,
        upstream_model=MODEL,
        response_model="fast",
        request_id="req-g",
        credential=Credential(key_id="key_g", secret=key),
    )


def chat(**extra: Any) -> dict[str, Any]:
    return {"model": "fast", "messages": [{"role": "user", "content": "Count to three"}]} | extra


async def collect(adapter: Any, c: Call) -> tuple[list[dict[str, Any]], StreamEnd]:
    *chunks, end = [item async for item in adapter.stream(c)]
    assert isinstance(end, StreamEnd)
    return [chunk.body for chunk in chunks if isinstance(chunk, Chunk)], end


async def test_generate_on_groqs_path(adapter: Any, emu: OpenAICompatEmulator) -> None:
    result = await adapter.generate(call(chat()))
    assert emu.last.path == "/openai/v1/chat/completions"
    assert emu.last.headers["authorization"] == f"Bearer {KEY}"
    assert emu.last.body == chat() | {"model": MODEL}
    assert result.body["model"] == "fast"
    assert "x_groq" not in result.body
    assert result.body["usage"]["queue_time"] > 0  # Groq's own usage fields reach the client
    assert result.usage == Usage(9, 7)
    assert result.rate_limits["x-ratelimit-limit-tokens"] == "18000"
    assert result.rate_limits["x-ratelimit-reset-tokens"] == "7.66s"


async def test_harmless_unsupported_parameters_are_dropped(
    adapter: Any, emu: OpenAICompatEmulator
) -> None:
    messages = [
        {"role": "system", "content": "Be brief.", "name": "rules"},
        {"role": "user", "content": "Hi", "name": "alice"},
    ]
    body = chat(messages=messages, logprobs=False, n=1, logit_bias={}, top_logprobs=0)
    await adapter.generate(call(body))  # Groq mode answers 400 to any of them
    assert emu.last.body == {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
        ],
    }


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"logprobs": True}, "logprobs"),
        ({"top_logprobs": 2}, "top_logprobs"),
        ({"logit_bias": {"1": 5}}, "logit_bias"),
        ({"n": 3}, "n"),
    ],
)
async def test_unsupported_features_are_refused_before_any_request(
    adapter: Any, emu: OpenAICompatEmulator, extra: dict[str, Any], param: str
) -> None:
    with pytest.raises(GatewayError) as caught:
        await adapter.generate(call(chat(**extra)))
    err = caught.value
    assert (err.status, err.code, err.param) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "unsupported_parameter",
        param,
    )
    assert "groq" in err.message and param in err.message
    assert emu.requests == []


async def test_no_legacy_completions(adapter: Any, emu: OpenAICompatEmulator) -> None:
    with pytest.raises(GatewayError) as caught:
        await adapter.generate(call({"model": "fast", "prompt": "x"}, op=Operation.COMPLETIONS))
    assert caught.value.code == "unsupported_operation"
    assert emu.requests == []


@pytest.mark.parametrize("include_usage", [True, False])
async def test_stream_reports_usage_once_and_hides_x_groq(
    adapter: Any, emu: OpenAICompatEmulator, include_usage: bool
) -> None:
    body = chat(stream=True)
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    chunks, end = await collect(adapter, call(body))
    assert emu.last.body["stream_options"] == {"include_usage": True}
    assert not any("x_groq" in c for c in chunks)
    usage_chunks = [c for c in chunks if not c["choices"]]
    assert len(usage_chunks) == (1 if include_usage else 0)
    if include_usage:
        assert chunks[-1]["usage"]["total_tokens"] == 16
    assert end.usage == Usage(9, 7)
    assert {c["model"] for c in chunks} == {"fast"}


async def test_stream_tool_calls(adapter: Any, emu: OpenAICompatEmulator) -> None:
    emu.enqueue(Reply(text=None, tool_calls=(ToolCall(name="add", arguments='{"a":1,"b":2}'),)))
    tool = {"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}
    chunks, _ = await collect(adapter, call(chat(stream=True, tools=[tool])))
    arguments = "".join(
        d["function"].get("arguments", "")
        for c in chunks
        for d in c["choices"][0]["delta"].get("tool_calls") or []
    )
    assert arguments == '{"a":1,"b":2}'
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


async def test_rejected_key(adapter: Any) -> None:
    wrong = "gsk_wrongKey0123456789abcdefABCDEFgh"
    with pytest.raises(GatewayError) as caught:
        await adapter.generate(call(chat(), key=wrong))
    assert caught.value.code == "provider_auth_failed"
    assert wrong not in f"{caught.value} {caught.value.metadata}"


async def test_rate_limited_with_retry_after(adapter: Any, emu: OpenAICompatEmulator) -> None:
    message = (
        "Rate limit reached for model `llama-3.3-70b-versatile` in organization `org_01` "
        "service tier `on_demand` on tokens per minute (TPM): Limit 12000, Used 11972, "
        "Requested 4351. Please try again in 21.6s."
    )
    emu.enqueue(Fault(status=429, type="tokens", message=message, retry_after="22"))
    with pytest.raises(GatewayError) as caught:
        await adapter.generate(call(chat()))
    err = caught.value
    assert (err.code, err.retryable, err.retry_after_s) == ("upstream_rate_limited", True, 22.0)
    assert err.metadata["upstream_type"] == "tokens"


async def test_drops_are_logged_at_debug_without_the_key(
    adapter: Any, emu: OpenAICompatEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    assert adapter.name == "groq" and adapter.capabilities == groq.SPEC.capabilities
    messages = [{"role": "user", "content": "Hi", "name": "alice"}]
    with caplog.at_level(logging.DEBUG, logger="services.provider.adapters.openai_compat"):
        await adapter.generate(call(chat(messages=messages, logprobs=False)))
    (record,) = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert "logprobs" in record.getMessage() and "messages[0].name" in record.getMessage()
    assert record.__dict__["provider"] == "groq" and record.__dict__["request_id"] == "req-g"
    assert all(KEY not in r.getMessage() for r in caplog.records)
