"""The Messages surface through the real edge, with the official `anthropic` SDK as
the client, against every backend: Anthropic (passed through, checked against what
its emulator received), and OpenAI, Groq and the mock (translated both ways). One
test per feature of the conformance matrix (matrix.py), each run for every backend.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx2
import orjson
import pytest

from tests.e2e.conftest import Edge
from tests.e2e.surfaces.matrix import BACKENDS, MESSAGES_MODELS, VISION_BACKENDS
from tests.e2e.surfaces.messages_support import (
    NATIVE,
    PARALLEL,
    PNG,
    TIME,
    WEATHER,
    emulator,
    last_body,
    result,
    use,
    user,
)
from tests.emulators.anthropic import Reply as AnthropicReply
from tests.emulators.openai_compat import Reply as CompatReply

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("backend", BACKENDS)
async def test_text(claude: anthropic.AsyncAnthropic, backend: str) -> None:
    message = await claude.messages.create(
        model=MESSAGES_MODELS[backend], max_tokens=64, messages=user("Hello")
    )
    assert message.type == "message" and message.role == "assistant"
    assert message.content[0].type == "text" and message.content[0].text
    assert message.stop_reason == "end_turn"
    assert message.model and message.model in MESSAGES_MODELS[backend]  # the registry id
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0


@pytest.mark.parametrize("backend", BACKENDS)
async def test_system(edge: Edge, claude: anthropic.AsyncAnthropic, backend: str) -> None:
    system: list[Any] = [
        {"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "Answer in English."},
    ]
    message = await claude.messages.create(
        model=MESSAGES_MODELS[backend], max_tokens=64, system=system, messages=user("Hi")
    )
    assert message.content
    if backend == NATIVE:  # every block and breakpoint, as sent
        assert last_body(edge, backend)["system"] == system
    elif emulator(edge, backend) is not None:
        first = last_body(edge, backend)["messages"][0]
        assert first == {"role": "system", "content": "You are terse.\n\nAnswer in English."}


@pytest.mark.parametrize("backend", BACKENDS)
async def test_multi_turn(edge: Edge, claude: anthropic.AsyncAnthropic, backend: str) -> None:
    turns: list[Any] = [
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": "Nice to meet you, Ada."},
        {"role": "user", "content": [{"type": "text", "text": "What is my name?"}]},
    ]
    message = await claude.messages.create(
        model=MESSAGES_MODELS[backend], max_tokens=64, messages=turns
    )
    assert message.content[0].type == "text"
    if backend == NATIVE:
        assert last_body(edge, backend)["messages"] == turns
    elif emulator(edge, backend) is not None:
        roles = [m["role"] for m in last_body(edge, backend)["messages"]]
        assert roles == ["user", "assistant", "user"]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_tools(claude: anthropic.AsyncAnthropic, backend: str) -> None:
    message = await claude.messages.create(
        model=MESSAGES_MODELS[backend],
        max_tokens=128,
        tools=[WEATHER],
        tool_choice={"type": "any"},
        messages=user("What is the weather in Paris?"),
    )
    uses = [block for block in message.content if block.type == "tool_use"]
    assert len(uses) == 1 and uses[0].name == "get_weather"
    assert isinstance(uses[0].input, dict) and "city" in uses[0].input
    assert uses[0].id
    assert message.stop_reason == "tool_use"


@pytest.mark.parametrize("backend", BACKENDS)
async def test_parallel_tools(claude: anthropic.AsyncAnthropic, backend: str) -> None:
    message = await claude.messages.create(
        model=MESSAGES_MODELS[backend],
        max_tokens=128,
        tools=[WEATHER, TIME],
        tool_choice={"type": "any"},
        messages=user(PARALLEL),
    )
    uses = [block for block in message.content if block.type == "tool_use"]
    assert sorted(use.name for use in uses) == ["get_time", "get_weather"]
    assert len({use.id for use in uses}) == 2
    assert message.stop_reason == "tool_use"


@pytest.mark.parametrize("backend", BACKENDS)
async def test_tool_results(edge: Edge, claude: anthropic.AsyncAnthropic, backend: str) -> None:
    turns: list[Any] = [
        {"role": "user", "content": PARALLEL},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking both."},
                use("toolu_a1", "get_weather", {"city": "Paris"}),
                use("toolu_b2", "get_time", {"city": "Tokyo"}),
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_a1", "content": "18C and sunny"},
                result("toolu_b2", [{"type": "text", "text": "09:00"}]),
            ],
        },
    ]
    message = await claude.messages.create(
        model=MESSAGES_MODELS[backend],
        max_tokens=128,
        tools=[WEATHER, TIME],
        messages=turns,
    )
    assert message.stop_reason == "end_turn"
    assert message.content[0].type == "text"
    if backend == NATIVE:
        assert last_body(edge, backend)["messages"] == turns
    elif emulator(edge, backend) is not None:
        sent = last_body(edge, backend)["messages"]
        assert [m["role"] for m in sent] == ["user", "assistant", "tool", "tool"]
        assert [m["tool_call_id"] for m in sent[2:]] == ["toolu_a1", "toolu_b2"]
        assert sent[3]["content"] == "09:00"


@pytest.mark.parametrize("backend", BACKENDS)
async def test_images(edge: Edge, claude: anthropic.AsyncAnthropic, backend: str) -> None:
    image = {"type": "base64", "media_type": "image/png", "data": PNG}
    content: list[Any] = [
        {"type": "text", "text": "Describe this image."},
        {"type": "image", "source": image},
    ]
    message = await claude.messages.create(
        model=MESSAGES_MODELS[backend],
        max_tokens=64,
        messages=[{"role": "user", "content": content}],
    )
    assert message.content
    if backend not in VISION_BACKENDS:  # the model lacks vision: a fallback with it served
        assert message.model not in MESSAGES_MODELS[backend]
    elif backend == NATIVE:
        assert last_body(edge, backend)["messages"][0]["content"][1]["source"] == image
    elif emulator(edge, backend) is not None:
        part = last_body(edge, backend)["messages"][0]["content"][1]
        assert part == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}


@pytest.mark.parametrize("backend", BACKENDS)
async def test_json_output(claude: anthropic.AsyncAnthropic, backend: str) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    }
    message = await claude.messages.create(
        model=MESSAGES_MODELS[backend],
        max_tokens=128,
        messages=user("Name a city as JSON."),
        extra_body={"output_config": {"format": {"type": "json_schema", "schema": schema}}},
    )
    block = message.content[0]
    assert block.type == "text"
    assert isinstance(json.loads(block.text), dict)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_stop_reasons(edge: Edge, claude: anthropic.AsyncAnthropic, backend: str) -> None:
    upstream = emulator(edge, backend)
    if backend == NATIVE:
        upstream.enqueue(AnthropicReply(stop_reason="max_tokens"))
    elif upstream is not None:
        upstream.enqueue(CompatReply(finish_reason="length"))
    message = await claude.messages.create(
        model=MESSAGES_MODELS[backend],
        max_tokens=3,  # the mock truncates at the limit itself
        messages=user("Tell me a long story about the sea and the sky."),
    )
    assert message.stop_reason == "max_tokens"


@pytest.mark.parametrize("backend", BACKENDS)
async def test_usage_with_cache_tokens(
    edge: Edge, claude: anthropic.AsyncAnthropic, backend: str
) -> None:
    upstream = emulator(edge, backend)
    cached = 0
    if backend == NATIVE:
        upstream.enqueue(
            AnthropicReply(
                input_tokens=11, cache_read_input_tokens=40, cache_creation_input_tokens=9
            )
        )
    elif backend == "openai":
        cached = 8
        upstream.enqueue(CompatReply(prompt_tokens=30, completion_tokens=4, cached_tokens=cached))
    message = await claude.messages.create(
        model=MESSAGES_MODELS[backend], max_tokens=64, messages=user("Hello")
    )
    usage = message.usage
    if backend == NATIVE:
        assert (usage.input_tokens, usage.cache_read_input_tokens) == (11, 40)
        assert usage.cache_creation_input_tokens == 9
    else:  # Anthropic counts input apart from cache reads
        assert usage.cache_read_input_tokens == cached
        assert usage.cache_creation_input_tokens == 0
        if backend == "openai":
            assert usage.input_tokens == 30 - cached and usage.output_tokens == 4
        else:
            assert usage.input_tokens > 0


async def _raw_events(edge: Edge, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The stream as bytes on the wire, parsed into (event name, data)."""
    events = []
    async with (
        httpx2.AsyncClient(timeout=30) as http,
        http.stream(
            "POST",
            f"{edge.url}/v1/messages",
            headers={"x-api-key": edge.admin_key, "anthropic-version": "2023-06-01"},
            json={**body, "stream": True},
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = b"".join([chunk async for chunk in response.aiter_bytes()])
    for frame in raw.split(b"\n\n"):
        if frame.strip():
            name, data = frame.split(b"\n", 1)
            events.append((name.removeprefix(b"event: ").decode(), orjson.loads(data[6:])))
    return events


def _assert_framing(events: list[tuple[str, dict[str, Any]]]) -> None:
    """One message_start first, blocks strictly nested, message_delta then message_stop."""
    names = [name for name, _ in events if name != "ping"]
    assert names[0] == "message_start" and names.count("message_start") == 1
    assert names[-2:] == ["message_delta", "message_stop"]
    open_index = None
    for name, data in events:
        if name == "content_block_start":
            assert open_index is None
            open_index = data["index"]
        elif name == "content_block_delta":
            assert data["index"] == open_index
        elif name == "content_block_stop":
            assert data["index"] == open_index
            open_index = None
    assert open_index is None


@pytest.mark.parametrize("backend", BACKENDS)
async def test_streaming(edge: Edge, claude: anthropic.AsyncAnthropic, backend: str) -> None:
    model = MESSAGES_MODELS[backend]
    whole = await claude.messages.create(model=model, max_tokens=64, messages=user("Hello"))
    async with claude.messages.stream(model=model, max_tokens=64, messages=user("Hello")) as stream:
        pieces = [piece async for piece in stream.text_stream]
        final = await stream.get_final_message()
    assert pieces and "".join(pieces) == final.content[0].text  # type: ignore[union-attr]
    assert final.content[0].text == whole.content[0].text  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0 and final.usage.input_tokens > 0
    events = await _raw_events(edge, {"model": model, "max_tokens": 64, "messages": user("Hello")})
    _assert_framing(events)
    assert events[0][1]["message"]["usage"]["input_tokens"] > 0  # never 0/0


@pytest.mark.parametrize("backend", BACKENDS)
async def test_streaming_tools(edge: Edge, claude: anthropic.AsyncAnthropic, backend: str) -> None:
    async with claude.messages.stream(
        model=MESSAGES_MODELS[backend],
        max_tokens=128,
        tools=[WEATHER, TIME],
        tool_choice={"type": "any"},
        messages=user(PARALLEL),
    ) as stream:
        final = await stream.get_final_message()
    uses = [block for block in final.content if block.type == "tool_use"]
    assert sorted(use.name for use in uses) == ["get_time", "get_weather"]
    assert all(isinstance(use.input, dict) for use in uses)
    assert final.stop_reason == "tool_use"
    events = await _raw_events(
        edge,
        {
            "model": MESSAGES_MODELS[backend],
            "max_tokens": 128,
            "tools": [WEATHER, TIME],
            "tool_choice": {"type": "any"},
            "messages": user(PARALLEL),
        },
    )
    _assert_framing(events)
    kinds = {d["delta"]["type"] for n, d in events if n == "content_block_delta"}
    assert "input_json_delta" in kinds


@pytest.mark.parametrize("backend", BACKENDS)
async def test_errors(edge: Edge, claude: anthropic.AsyncAnthropic, backend: str) -> None:
    model = MESSAGES_MODELS[backend]
    with pytest.raises(anthropic.BadRequestError) as bad:
        await claude.messages.create(model=model, max_tokens=0, messages=user("Hi"))
    assert bad.value.body["type"] == "error"  # type: ignore[index]
    assert bad.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    with pytest.raises(anthropic.NotFoundError) as missing:
        await claude.messages.create(
            model="no-such-model-anywhere",
            max_tokens=8,
            messages=user("Hi"),
        )
    assert missing.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    async with anthropic.AsyncAnthropic(
        base_url=edge.url, api_key="wrong", max_retries=0
    ) as bad_key:
        with pytest.raises(anthropic.AuthenticationError) as denied:
            await bad_key.messages.create(model=model, max_tokens=8, messages=user("Hi"))
    assert denied.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_count_tokens(edge: Edge, backend: str) -> None:
    body = {"model": MESSAGES_MODELS[backend], "messages": user("How many tokens is this?")}
    async with httpx2.AsyncClient(timeout=30) as http:
        response = await http.post(
            f"{edge.url}/v1/messages/count_tokens",
            headers={"x-api-key": edge.admin_key, "anthropic-version": "2023-06-01"},
            json=body,
        )
    assert response.status_code == 200, response.text
    assert response.json()["input_tokens"] > 0
    counted_by = "provider" if backend == NATIVE else "estimate"
    assert response.headers["x-agentopia-token-count"] == counted_by
    if backend == NATIVE:
        assert emulator(edge, NATIVE).requests[-1].path == "/v1/messages/count_tokens"
