"""The mock provider: deterministic OpenAI-exact shapes, tools, JSON modes, faults, pacing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import orjson
import pytest

from services.common.config import ConfigError
from services.common.errors import GatewayError
from services.provider.adapters.base import RESERVED_KEYS, Call, Chunk, Operation, Result, StreamEnd
from services.provider.adapters.mock import PROVIDER, MockAdapter, MockProfiles, build
from services.provider.adapters.mock.content import split_words
from services.provider.adapters.mock.settings import SettingsError
from services.provider.adapters.mock.tokens import count_text
from services.provider.config import DEFAULT_TIMEOUTS, ProviderConfig, Timeouts
from services.provider.errors import rule_for
from services.provider.http import DisabledHttp

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
    extensions = {key: body[key] for key in RESERVED_KEYS if key in body}
    body = {key: value for key, value in body.items() if key not in RESERVED_KEYS}
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


async def test_reply_is_deterministic_and_openai_shaped() -> None:
    body = {"messages": [USER]}
    first = await mock().generate(make_call(body))
    second = await mock().generate(make_call(body))
    assert first.body == second.body
    reply = first.body
    assert reply["id"].startswith("chatcmpl-")
    assert reply["object"] == "chat.completion"
    assert reply["created"] == 1_700_000_000
    assert reply["model"] == "alias"
    choice = reply["choices"][0]
    assert choice["index"] == 0
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    assert "What is the weather in Paris?" in choice["message"]["content"]
    usage = reply["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert (first.usage.prompt_tokens, first.usage.completion_tokens) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
    )
    assert usage["completion_tokens"] == count_text(choice["message"]["content"])


async def test_different_input_different_reply() -> None:
    a = await mock().generate(make_call({"messages": [USER]}))
    b = await mock().generate(make_call({"messages": [{"role": "user", "content": "Other"}]}))
    assert a.body["choices"][0]["message"]["content"] != b.body["choices"][0]["message"]["content"]


async def test_stream_matches_the_complete_response() -> None:
    body = {"messages": [USER], "stream": True}
    whole = await mock().generate(make_call(body))
    chunks, end = await drain(mock().stream(make_call(body)))
    assert {c["id"] for c in chunks} == {whole.body["id"]}
    assert {c["created"] for c in chunks} == {1_700_000_000}
    assert {c["model"] for c in chunks} == {"alias"}
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    assert chunks[-1]["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "stop",
    }
    assert all("usage" not in c for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text == whole.body["choices"][0]["message"]["content"]
    assert end.usage == whole.usage


async def test_usage_chunk_only_when_asked() -> None:
    body = {"messages": [USER], "stream": True, "stream_options": {"include_usage": True}}
    chunks, end = await drain(mock().stream(make_call(body)))
    assert all(c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["prompt_tokens"] == end.usage.prompt_tokens
    assert chunks[-1]["usage"]["completion_tokens"] == end.usage.completion_tokens


async def test_chunk_words() -> None:
    body = {"messages": [USER], "stream": True, "mock": {"chunk_words": 3}}
    chunks, _ = await drain(mock().stream(make_call(body)))
    contents = [c["choices"][0]["delta"].get("content") for c in chunks[1:-1]]
    assert all(len(text.split()) <= 3 for text in contents)
    assert len(contents[0].split()) == 3


async def test_n_choices_interleave_by_index() -> None:
    body = {"messages": [USER], "n": 3, "stream": True}
    whole = await mock().generate(make_call(body))
    assert [c["index"] for c in whole.body["choices"]] == [0, 1, 2]
    contents = [c["message"]["content"] for c in whole.body["choices"]]
    assert len(set(contents)) == 3
    chunks, _ = await drain(mock().stream(make_call(body)))
    assert [c["choices"][0]["index"] for c in chunks[:6]] == [0, 1, 2, 0, 1, 2]
    for index in range(3):
        text = "".join(
            c["choices"][0]["delta"].get("content") or ""
            for c in chunks
            if c["choices"][0]["index"] == index
        )
        assert text == contents[index]


async def test_required_tool_choice_calls_a_tool_with_schema_arguments() -> None:
    body = {
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [WEATHER, TIME],
        "tool_choice": "required",
    }
    result = await mock().generate(make_call(body))
    choice = result.body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    [call] = choice["message"]["tool_calls"]
    assert call["type"] == "function"
    assert call["id"].startswith("call_")
    assert call["function"]["name"] == "get_weather"
    arguments = orjson.loads(call["function"]["arguments"])
    assert set(arguments) == {"city", "unit", "days", "when"}
    assert arguments["unit"] == "celsius"
    assert arguments["days"] == 1
    assert arguments["when"] == "2024-01-01"
    assert isinstance(arguments["city"], str)


async def test_named_tool_choice() -> None:
    body = {
        "messages": [USER],
        "tools": [WEATHER, TIME],
        "tool_choice": {"type": "function", "function": {"name": "get_time"}},
    }
    result = await mock().generate(make_call(body))
    [call] = result.body["choices"][0]["message"]["tool_calls"]
    assert call["function"]["name"] == "get_time"
    assert call["function"]["arguments"] == "{}"


async def test_mentioned_tools_are_called_in_parallel_in_order() -> None:
    body = {
        "messages": [{"role": "user", "content": "use get_time then get_weather"}],
        "tools": [WEATHER, TIME],
    }
    result = await mock().generate(make_call(body))
    names = [c["function"]["name"] for c in result.body["choices"][0]["message"]["tool_calls"]]
    assert names == ["get_time", "get_weather"]
    ids = [c["id"] for c in result.body["choices"][0]["message"]["tool_calls"]]
    assert len(set(ids)) == 2
    single = await mock().generate(make_call({**body, "parallel_tool_calls": False}))
    assert len(single.body["choices"][0]["message"]["tool_calls"]) == 1


async def test_no_tool_call_without_reason_or_with_none() -> None:
    plain = await mock().generate(
        make_call({"messages": [{"role": "user", "content": "hi"}], "tools": [WEATHER]})
    )
    assert "tool_calls" not in plain.body["choices"][0]["message"]
    none = await mock().generate(
        make_call(
            {
                "messages": [{"role": "user", "content": "get_weather"}],
                "tools": [WEATHER],
                "tool_choice": "none",
            }
        )
    )
    assert "tool_calls" not in none.body["choices"][0]["message"]


async def test_streamed_tool_calls_reassemble_exactly() -> None:
    body = {
        "messages": [{"role": "user", "content": "get_weather and get_time"}],
        "tools": [WEATHER, TIME],
        "stream": True,
    }
    whole = await mock().generate(make_call(body))
    chunks, _ = await drain(mock().stream(make_call(body)))
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for delta in chunk["choices"][0]["delta"].get("tool_calls") or ():
            slot = calls.setdefault(delta["index"], {"id": "", "name": "", "arguments": ""})
            if "id" in delta:
                assert not slot["id"], "id only on the first delta of a call"
                slot["id"] = delta["id"]
                slot["name"] = delta["function"]["name"]
            else:
                assert slot["id"], "arguments only after the call's first delta"
            slot["arguments"] += delta["function"].get("arguments", "")
    expected = [
        {"id": c["id"], "name": c["function"]["name"], "arguments": c["function"]["arguments"]}
        for c in whole.body["choices"][0]["message"]["tool_calls"]
    ]
    assert [calls[i] for i in sorted(calls)] == expected
    assert sum(1 for c in chunks for d in c["choices"][0]["delta"].get("tool_calls") or ()) > 4
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


async def test_tool_result_round_trip_answers_in_text() -> None:
    call_id = "call_abc"
    body = {
        "messages": [
            USER,
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": "{}"},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": call_id, "content": "18C and sunny"},
        ],
        "tools": [WEATHER],
        "tool_choice": "required",
    }
    result = await mock().generate(make_call(body))
    message = result.body["choices"][0]["message"]
    assert "tool_calls" not in message
    assert "18C and sunny" in message["content"]


async def test_images_are_seen_and_counted() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    body = {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Describe"}, image, image]}
        ]
    }
    result = await mock().generate(make_call(body))
    assert "I see 2 images" in result.body["choices"][0]["message"]["content"]
    text_only = await mock().generate(
        make_call({"messages": [{"role": "user", "content": "Describe"}]})
    )
    assert result.usage.prompt_tokens - text_only.usage.prompt_tokens == 170


async def test_json_modes() -> None:
    obj = await mock().generate(
        make_call({"messages": [USER], "response_format": {"type": "json_object"}})
    )
    assert isinstance(orjson.loads(obj.body["choices"][0]["message"]["content"]), dict)
    schema = {
        "type": "object",
        "properties": {
            "answer": {"type": "string"},
            "score": {"type": "number"},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
        },
        "required": ["answer", "score", "tags"],
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "out", "schema": schema, "strict": True}}
    structured = await mock().generate(make_call({"messages": [USER], "response_format": fmt}))
    value = orjson.loads(structured.body["choices"][0]["message"]["content"])
    assert set(value) == {"answer", "score", "tags"}
    assert len(value["tags"]) == 2


async def test_max_tokens_cuts_with_length_and_stop_sequences_end_early() -> None:
    cut = await mock().generate(make_call({"messages": [USER], "max_tokens": 3}))
    assert cut.body["choices"][0]["finish_reason"] == "length"
    assert cut.usage.completion_tokens <= 3
    stopped = await mock().generate(make_call({"messages": [USER], "stop": ["Paris"]}))
    content = stopped.body["choices"][0]["message"]["content"]
    assert "Paris" not in content
    assert stopped.body["choices"][0]["finish_reason"] == "stop"


async def test_system_prompt_is_acknowledged() -> None:
    body = {"messages": [{"role": "system", "content": "Be terse."}, USER]}
    result = await mock().generate(make_call(body))
    assert "system prompt" in result.body["choices"][0]["message"]["content"]
    plain = await mock().generate(make_call({"messages": [USER]}))
    assert result.usage.prompt_tokens > plain.usage.prompt_tokens


async def test_legacy_completions_and_their_stream() -> None:
    body = {
        "prompt": "Once upon a time",
        "max_tokens": 50,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    whole = await mock().generate(make_call(body, op=Operation.COMPLETIONS))
    assert whole.body["object"] == "text_completion"
    assert whole.body["id"].startswith("cmpl-")
    choice = whole.body["choices"][0]
    assert set(choice) == {"text", "index", "logprobs", "finish_reason"}
    assert set(whole.body["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
    chunks, end = await drain(mock().stream(make_call(body, op=Operation.COMPLETIONS)))
    assert all(c["object"] == "text_completion" for c in chunks)
    assert "".join(c["choices"][0]["text"] for c in chunks[:-1]) == choice["text"]
    assert (
        chunks[-1]["choices"] == []
        and chunks[-1]["usage"]["total_tokens"] == end.usage.total_tokens
    )
    echo = await mock().generate(
        make_call({"prompt": "Hi", "echo": True}, op=Operation.COMPLETIONS)
    )
    assert echo.body["choices"][0]["text"].startswith("Hi")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "messages"),
        ({"messages": []}, "messages"),
        ({"messages": ["text"]}, "messages"),
        ({"messages": [USER], "n": 0}, "n"),
        ({"messages": [USER], "max_tokens": -1}, "max_tokens"),
        ({"messages": [USER], "tools": [{"type": "function"}]}, "tool_choice"),
        (
            {
                "messages": [USER],
                "tools": [WEATHER],
                "tool_choice": {"type": "function", "function": {"name": "x"}},
            },
            "tool_choice",
        ),
        ({"messages": [USER], "mock": {"latency": 5}}, "mock"),
        ({"messages": [USER], "mock": {"fault_status": 200}}, "mock"),
        ({"messages": [USER], "mock": {"fault_rate": 2}}, "mock"),
        ({"messages": [USER], "mock": "fast"}, "mock"),
    ],
)
async def test_invalid_requests_are_upstream_400s(body: dict[str, Any], param: str) -> None:
    error = await fails(mock().generate(make_call(body)))
    assert (error.code, error.status, error.param) == (
        "upstream_bad_request",
        grpc.StatusCode.INVALID_ARGUMENT,
        param,
    )
    assert error.metadata["provider"] == "mock"


STATUSES = [400, 401, 403, 404, 408, 409, 413, 422, 429, 500, 502, 503, 504, 529]


@pytest.mark.parametrize("status", STATUSES)
async def test_fault_status_gives_the_canonical_error(status: int) -> None:
    body = {"messages": [USER], "mock": {"fault_status": status}}
    error = await fails(mock().generate(make_call(body)))
    rule = rule_for(status, "overloaded_error" if status == 529 else "")
    assert (error.code, error.status, error.retryable) == (rule.code, rule.status, rule.retryable)
    assert error.metadata["upstream_status"] == str(status)
    stream_error = await fails(drain(mock().stream(make_call({**body, "stream": True}))))
    assert stream_error.code == rule.code


async def test_fault_rate_deterministic_sequence() -> None:
    adapter = mock()
    body = {"messages": [USER], "mock": {"fault_status": 503, "fault_rate": 0.5}}
    outcomes = []
    for _ in range(6):
        try:
            await adapter.generate(make_call(body))
            outcomes.append("ok")
        except GatewayError:
            outcomes.append("fault")
    assert outcomes == ["fault", "ok"] * 3


async def test_fault_rate_seeded_random_is_reproducible() -> None:
    body = {"messages": [USER], "mock": {"fault_status": 500, "fault_rate": 0.3, "fault_seed": 7}}

    async def run() -> list[bool]:
        adapter = mock()
        results = []
        for _ in range(20):
            try:
                await adapter.generate(make_call(body))
                results.append(True)
            except GatewayError:
                results.append(False)
        return results

    first, second = await run(), await run()
    assert first == second
    assert 0 < first.count(False) < 20


async def test_hang_becomes_the_first_byte_timeout() -> None:
    adapter = mock(timeouts=Timeouts(first_byte_s=0.01))
    error = await fails(adapter.generate(make_call({"messages": [USER], "mock": {"hang": True}})))
    assert (error.code, error.status) == ("upstream_timeout", grpc.StatusCode.DEADLINE_EXCEEDED)
    assert error.retryable


async def test_mid_stream_failure_after_n_chunks() -> None:
    body = {"messages": [USER], "stream": True, "mock": {"fail_after_chunks": 3}}
    received: list[Chunk | StreamEnd] = []
    with pytest.raises(GatewayError) as caught:
        async for item in mock().stream(make_call(body)):
            received.append(item)
    assert len(received) == 3
    assert caught.value.code == "upstream_server_error"
    # A non-streamed call is not affected by a mid-stream fault.
    assert isinstance(await mock().generate(make_call(body)), Result)
    overloaded = {
        "messages": [USER],
        "stream": True,
        "mock": {"fail_after_chunks": 1, "fault_status": 529},
    }
    error = await fails(drain(mock().stream(make_call(overloaded))))
    assert error.code == "upstream_overloaded"


async def test_profiles_builtin_env_and_request_layers() -> None:
    profiles = {
        "AGENTOPIA_MOCK_REPLY": "env reply",
        "AGENTOPIA_MOCK_PROFILES": orjson.dumps(
            {"mock/custom": {"reply": "custom reply"}, "flaky": {"fault_status": 502}}
        ).decode(),
    }
    adapter = mock(profiles)
    plain = await adapter.generate(make_call({"messages": [USER]}, model="mock/anything"))
    assert plain.body["choices"][0]["message"]["content"] == "env reply"
    custom = await adapter.generate(make_call({"messages": [USER]}, model="custom"))
    assert custom.body["choices"][0]["message"]["content"] == "custom reply"
    override = await adapter.generate(
        make_call({"messages": [USER], "mock": {"reply": "req"}}, model="mock/custom")
    )
    assert override.body["choices"][0]["message"]["content"] == "req"
    flaky = await fails(adapter.generate(make_call({"messages": [USER]}, model="mock/flaky")))
    assert flaky.code == "upstream_bad_gateway"
    broken = await fails(adapter.generate(make_call({"messages": [USER]}, model="mock/broken")))
    assert broken.code == "upstream_server_error"
    limited = await fails(
        adapter.generate(make_call({"messages": [USER]}, model="mock/ratelimited"))
    )
    assert limited.retry_after_s == 1.0
    healed = await adapter.generate(
        make_call({"messages": [USER], "mock": {"fault_rate": 0}}, model="mock/broken")
    )
    assert healed.body["object"] == "chat.completion"


@pytest.mark.parametrize(
    "env",
    [
        {"AGENTOPIA_MOCK_LATENCY_MS": "-1"},
        {"AGENTOPIA_MOCK_FAULT_RATE": "lots"},
        {"AGENTOPIA_MOCK_HANG": "maybe"},
        {"AGENTOPIA_MOCK_PROFILES": "{nope"},
        {"AGENTOPIA_MOCK_PROFILES": "[1]"},
        {"AGENTOPIA_MOCK_PROFILES": '{"x": {"bogus": 1}}'},
    ],
)
def test_bad_settings_fail_fast(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        MockProfiles.from_env(env)


def test_env_defaults_are_parsed() -> None:
    profiles = MockProfiles.from_env(
        {
            "AGENTOPIA_MOCK_LATENCY_MS": "5",
            "AGENTOPIA_MOCK_HANG": "false",
            "AGENTOPIA_MOCK_FAULT_SEED": "",
        }
    )
    assert profiles.defaults.latency_ms == 5.0
    assert profiles.defaults.hang is False
    assert profiles.defaults.fault_seed is None
    assert profiles.for_model("mock/unknown") is profiles.defaults


async def test_zero_latency_never_sleeps(monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_sleep(delay: float, result: Any = None) -> None:
        raise AssertionError(f"slept {delay}")

    adapter = mock()
    monkeypatch.setattr(asyncio, "sleep", no_sleep)
    await adapter.generate(make_call({"messages": [USER]}))
    await drain(adapter.stream(make_call({"messages": [USER], "stream": True, "n": 2})))


async def test_latency_and_pacing_sleep_as_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def record(delay: float, result: Any = None) -> None:
        slept.append(delay)

    monkeypatch.setattr(asyncio, "sleep", record)
    body = {"messages": [USER], "stream": True, "mock": {"latency_ms": 250, "chunk_delay_ms": 20}}
    chunks, _ = await drain(mock().stream(make_call(body)))
    assert slept[0] == 0.25
    assert slept[1:] == [0.02] * (len(chunks) - 1)


async def test_closing_a_stream_early_is_tracked() -> None:
    adapter = mock()
    stream = adapter.stream(make_call({"messages": [USER], "stream": True}))
    await stream.__anext__()
    assert adapter.active_streams == 1
    await stream.aclose()  # type: ignore[attr-defined]
    assert adapter.active_streams == 0


def test_registry_entry() -> None:
    assert PROVIDER.name == "mock"
    assert PROVIDER.api_key_env is None
    adapter = build(ProviderConfig(name="mock", requires_key=False), DisabledHttp("mock"))
    assert adapter.name == "mock"
    assert "tools" in {str(c) for c in adapter.capabilities}


@pytest.mark.parametrize(
    ("text", "n", "pieces"),
    [
        ("a b c", 1, ["a ", "b ", "c"]),
        ("a b c", 2, ["a b ", "c"]),
        ("  lead  trail  ", 1, ["  lead  ", "trail  "]),
        ("", 1, []),
    ],
)
def test_split_words_is_exact(text: str, n: int, pieces: list[str]) -> None:
    assert split_words(text, n) == pieces
    assert "".join(split_words(text, n)) == text


def test_by_model_overrides_apply_to_their_model_only() -> None:
    profiles = MockProfiles.from_env({})
    knobs = {"latency_ms": 2, "by_model": {"primary": {"fault_status": 503}}}
    assert profiles.resolve("mock/primary", knobs).fault_status == 503
    assert profiles.resolve("mock/primary", knobs).latency_ms == 2
    assert profiles.resolve("mock/backup", knobs).fault_status == 0
    with pytest.raises(SettingsError):
        profiles.resolve("mock/primary", {"by_model": {"primary": 1}})
