"""Scenarios every provider must pass, run over every entry in entries.py.

Skipped only by declared capability (see harness.py). Adapters are called
directly: the gRPC path is covered once, in test_core_servicer.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import orjson
import pytest

from services.kernel.errors import GatewayError
from services.provider.adapters.base import (
    GATEWAY_KEY,
    Call,
    Capability,
    CapabilityValue,
    Chunk,
    Operation,
    StreamEnd,
)
from services.provider.registry import registered
from services.provider.vocabulary import rule_for
from tests.provider.conformance import harness
from tests.provider.conformance.checks import (
    ALIAS,
    check_chunks,
    check_completion,
    check_usage,
    drain,
    finish_reasons,
    reassemble_tool_calls,
    streamed_text,
)
from tests.provider.conformance.harness import Built, Fault, ProviderUnderTest

SAFETY_S = 30.0  # hang guard, never an assertion
USER = {"role": "user", "content": "Say hello to the conformance suite."}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city", "unit"],
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Current time in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
PARALLEL_PROMPT = "Call get_weather for Paris and get_time for Tokyo, both at once."
PNG_1PX = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAE"
    "hQGAhKmMIQAAAABJRU5ErkJggg=="
)
STATUSES = [400, 401, 403, 404, 408, 409, 413, 422, 429, 498, 500, 502, 503, 504, 529]


# As the provider servicer takes them out: the gateway's key and each provider's own.
RESERVED = (GATEWAY_KEY, *(s.request_key for s in registered(demo=True) if s.request_key))


def need(put: ProviderUnderTest, *capabilities: str | CapabilityValue) -> None:
    missing = [harness.label(c) for c in capabilities if not put.has(c)]
    if missing:
        pytest.skip(f"{put.name} does not declare {', '.join(missing)}")


def make_call(built: Built, body: dict[str, Any], op: Operation = Operation.CHAT) -> Call:
    # As the provider servicer does: gateway-reserved keys travel beside the body.
    extensions = {key: body[key] for key in RESERVED if key in body}
    body = {key: value for key, value in body.items() if key not in RESERVED}
    return Call(
        operation=op,
        extensions=extensions,
        body={"model": built.model, **body},
        upstream_model=built.model,
        response_model=ALIAS,
        request_id="conformance",
        default_max_tokens=256,
        credential=built.credential,
    )


async def generate(built: Built, body: dict[str, Any], op: Operation = Operation.CHAT) -> Any:
    return await asyncio.wait_for(built.adapter.generate(make_call(built, body, op)), SAFETY_S)


async def stream(
    built: Built, body: dict[str, Any], op: Operation = Operation.CHAT
) -> tuple[list[dict[str, Any]], StreamEnd]:
    call = make_call(built, {**body, "stream": True}, op)
    return await asyncio.wait_for(drain(built.adapter.stream(call)), SAFETY_S)


async def failure(awaitable: Any) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        await asyncio.wait_for(awaitable, SAFETY_S)
    return caught.value


# ---- conversations ----


async def test_simple(put: ProviderUnderTest, built: Built) -> None:
    need(put, Capability.CAPABILITY_CHAT)
    check_completion(await generate(built, {"messages": [USER]}))


async def test_multi_turn(put: ProviderUnderTest, built: Built) -> None:
    need(put, Capability.CAPABILITY_CHAT)
    messages = [
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": "Nice to meet you, Ada."},
        {"role": "user", "content": "What is my name?"},
    ]
    check_completion(await generate(built, {"messages": messages}))


async def test_system_prompt(put: ProviderUnderTest, built: Built) -> None:
    need(put, Capability.CAPABILITY_CHAT)
    messages = [{"role": "system", "content": "Answer in one word."}, USER]
    check_completion(await generate(built, {"messages": messages}))


async def test_streaming(put: ProviderUnderTest, built: Built) -> None:
    need(put, Capability.CAPABILITY_CHAT, Capability.CAPABILITY_STREAMING)
    chunks, end = await stream(built, {"messages": [USER]})
    check_chunks(chunks)
    assert all(c["choices"] for c in chunks), "no usage chunk unless include_usage"
    assert streamed_text(chunks).strip()
    assert finish_reasons(chunks) == {0: ["stop"]}
    assert end.usage.prompt_tokens > 0
    assert end.usage.completion_tokens > 0
    if put.has(harness.DETERMINISTIC):
        whole = await generate(built, {"messages": [USER]})
        assert streamed_text(chunks) == whole.body["choices"][0]["message"]["content"]
        assert end.usage == whole.usage


async def test_usage_in_both_modes(put: ProviderUnderTest, built: Built) -> None:
    need(put, Capability.CAPABILITY_CHAT, Capability.CAPABILITY_STREAMING)
    whole = await generate(built, {"messages": [USER]})
    check_usage(whole.body["usage"], whole.usage)
    body = {"messages": [USER], "stream_options": {"include_usage": True}}
    chunks, end = await stream(built, body)
    *content, last = chunks
    assert last["choices"] == []
    check_usage(last["usage"], end.usage)
    assert all(c["choices"] and c.get("usage") is None for c in content)


async def test_multiple_choices(put: ProviderUnderTest, built: Built) -> None:
    need(put, Capability.CAPABILITY_CHAT, Capability.CAPABILITY_MULTIPLE_CHOICES)
    whole = await generate(built, {"messages": [USER], "n": 2})
    assert [c["index"] for c in whole.body["choices"]] == [0, 1]
    if put.has(Capability.CAPABILITY_STREAMING):
        chunks, _ = await stream(built, {"messages": [USER], "n": 2})
        assert finish_reasons(chunks).keys() == {0, 1}
        assert streamed_text(chunks, 0).strip() and streamed_text(chunks, 1).strip()


async def test_legacy_completions(put: ProviderUnderTest, built: Built) -> None:
    need(put, Capability.CAPABILITY_COMPLETIONS)
    body = {"prompt": "The capital of France is", "max_tokens": 32}
    whole = await generate(built, body, Operation.COMPLETIONS)
    assert whole.body["object"] == "text_completion"
    assert whole.body["model"] == ALIAS
    assert isinstance(whole.body["choices"][0]["text"], str)
    check_usage(whole.body["usage"], whole.usage)
    if put.has(Capability.CAPABILITY_STREAMING):
        chunks, end = await stream(built, body, Operation.COMPLETIONS)
        check_chunks(chunks, obj="text_completion")
        assert end.usage.completion_tokens > 0


# ---- tools ----


def _tool_calls(message: dict[str, Any]) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = message.get("tool_calls") or []
    for call in calls:
        assert call["id"] and call["type"] == "function"
        assert isinstance(orjson.loads(call["function"]["arguments"]), dict)
    return calls


async def test_tool_call_single(put: ProviderUnderTest, built: Built) -> None:
    need(put, Capability.CAPABILITY_TOOLS)
    body = {
        "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
        "tools": [WEATHER],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    }
    message = check_completion(await generate(built, body), finish="tool_calls")
    [call] = _tool_calls(message)
    assert call["function"]["name"] == "get_weather"
    assert {"city", "unit"} <= set(orjson.loads(call["function"]["arguments"]))


async def test_tool_call_parallel(put: ProviderUnderTest, built: Built) -> None:
    need(put, Capability.CAPABILITY_TOOLS, Capability.CAPABILITY_PARALLEL_TOOLS)
    body = {
        "messages": [{"role": "user", "content": PARALLEL_PROMPT}],
        "tools": [WEATHER, TIME],
        "tool_choice": "required",
    }
    message = check_completion(await generate(built, body), finish="tool_calls")
    calls = _tool_calls(message)
    assert len(calls) >= 2
    assert len({c["id"] for c in calls}) == len(calls)
    assert {c["function"]["name"] for c in calls} == {"get_weather", "get_time"}


async def test_tool_call_streamed_arguments_reassemble_exactly(
    put: ProviderUnderTest, built: Built
) -> None:
    need(put, Capability.CAPABILITY_TOOLS, Capability.CAPABILITY_STREAMING)
    parallel = put.has(Capability.CAPABILITY_PARALLEL_TOOLS)
    body = {
        "messages": [{"role": "user", "content": PARALLEL_PROMPT}],
        "tools": [WEATHER, TIME] if parallel else [WEATHER],
        "tool_choice": "required",
    }
    chunks, end = await stream(built, body)
    check_chunks(chunks)
    calls = reassemble_tool_calls(chunks)
    assert len(calls) >= (2 if parallel else 1)
    for call in calls:
        assert isinstance(orjson.loads(call["arguments"]), dict)
    assert finish_reasons(chunks) == {0: ["tool_calls"]}
    assert end.usage.completion_tokens > 0
    if put.has(harness.DETERMINISTIC):
        whole = await generate(built, body)
        expected = [
            {"name": c["function"]["name"], "arguments": c["function"]["arguments"]}
            for c in whole.body["choices"][0]["message"]["tool_calls"]
        ]
        assert [{"name": c["name"], "arguments": c["arguments"]} for c in calls] == expected


async def test_tool_result_round_trip(put: ProviderUnderTest, built: Built) -> None:
    need(put, Capability.CAPABILITY_TOOLS)
    messages = [
        {"role": "user", "content": "What is the weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_conf_1",
                    "type": "function",
                    "function": {
                        "name": "get_weather",
                        "arguments": '{"city":"Paris","unit":"celsius"}',
                    },
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_conf_1", "content": "18 degrees and sunny"},
    ]
    check_completion(await generate(built, {"messages": messages, "tools": [WEATHER]}))


# ---- input and output formats ----


async def test_image_input(put: ProviderUnderTest, built: Built) -> None:
    need(put, Capability.CAPABILITY_VISION)
    content = [
        {"type": "text", "text": "What is in this image?"},
        {"type": "image_url", "image_url": {"url": PNG_1PX}},
    ]
    check_completion(await generate(built, {"messages": [{"role": "user", "content": content}]}))


async def test_json_mode(put: ProviderUnderTest, built: Built) -> None:
    need(put, Capability.CAPABILITY_JSON_MODE)
    body = {
        "messages": [
            {"role": "user", "content": "Reply with a JSON object with a key 'greeting'."}
        ],
        "response_format": {"type": "json_object"},
    }
    message = check_completion(await generate(built, body))
    assert isinstance(orjson.loads(message["content"]), dict)


async def test_json_schema(put: ProviderUnderTest, built: Built) -> None:
    need(put, Capability.CAPABILITY_JSON_SCHEMA)
    schema = {
        "type": "object",
        "properties": {"greeting": {"type": "string"}, "count": {"type": "integer"}},
        "required": ["greeting", "count"],
        "additionalProperties": False,
    }
    body = {
        "messages": [{"role": "user", "content": "Greet me, as JSON."}],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "greeting", "schema": schema, "strict": True},
        },
    }
    message = check_completion(await generate(built, body))
    value = orjson.loads(message["content"])
    assert {"greeting", "count"} <= set(value)


# ---- failures ----


def _check_canonical(
    error: GatewayError, put: ProviderUnderTest, built: Built, status: int
) -> None:
    rule = rule_for(status, "overloaded_error" if status == 529 else "", vocabulary=put.vocabulary)
    assert (error.code, error.status, error.retryable, error.http_status) == (
        rule.code,
        rule.status,
        rule.retryable,
        rule.http_status,
    )
    assert error.metadata["provider"] == put.name
    assert error.metadata["upstream_status"] == str(status)
    if built.credential is not None:
        assert built.credential.secret not in error.message


@pytest.mark.parametrize("status", STATUSES)
async def test_error_status(put: ProviderUnderTest, built: Built, status: int) -> None:
    need(put, harness.ERRORS)
    body = built.inject({"messages": [USER]}, Fault("status", status=status))
    _check_canonical(await failure(generate(built, body)), put, built, status)
    if put.has(Capability.CAPABILITY_STREAMING):
        _check_canonical(await failure(stream(built, body)), put, built, status)


async def test_timeout(put: ProviderUnderTest, built_short_timeouts: Built) -> None:
    need(put, harness.TIMEOUT)
    built = built_short_timeouts
    body = built.inject({"messages": [USER]}, Fault("timeout"))
    error = await failure(generate(built, body))
    assert (error.code, error.status, error.retryable) == (
        "upstream_timeout",
        grpc.StatusCode.DEADLINE_EXCEEDED,
        True,
    )
    assert error.metadata["provider"] == put.name


async def test_mid_stream_error_is_an_error_not_a_clean_end(
    put: ProviderUnderTest, built: Built
) -> None:
    need(put, Capability.CAPABILITY_STREAMING, harness.MIDSTREAM_ERROR)
    body = built.inject({"messages": [USER], "stream": True}, Fault("midstream", after_chunks=2))
    received: list[Chunk | StreamEnd] = []

    async def consume() -> None:
        async for item in built.adapter.stream(make_call(built, body)):
            received.append(item)

    error = await failure(consume())
    assert received and all(isinstance(item, Chunk) for item in received)
    assert error.retryable
    assert error.metadata["provider"] == put.name


async def test_cancellation_closes_the_upstream(put: ProviderUnderTest, built: Built) -> None:
    need(put, Capability.CAPABILITY_STREAMING, harness.CANCELLATION)
    assert built.upstream_closed is not None, "entries declaring cancellation say how to observe it"
    body = built.inject({"messages": [USER], "stream": True}, Fault("stall"))
    first = asyncio.Event()

    async def consume() -> None:
        async for _ in built.adapter.stream(make_call(built, body)):
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), SAFETY_S)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(built.upstream_closed(), SAFETY_S)
