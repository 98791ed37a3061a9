"""The Messages surface through the real edge, with the official `anthropic` SDK as
the client, against every backend: Anthropic (passed through, checked against what
its emulator received), and OpenAI, Groq and the mock (translated both ways). One
test per feature of the conformance matrix (matrix.py), each run for every backend.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx2
import orjson
import pytest
import pytest_asyncio

from tests.e2e.conftest import Edge
from tests.e2e.surfaces.matrix import BACKENDS, MESSAGES_MODELS, VISION_BACKENDS
from tests.emulators.anthropic import Reply as AnthropicReply
from tests.emulators.anthropic import text as text_block
from tests.emulators.anthropic import thinking as thinking_block
from tests.emulators.openai_compat import Reply as CompatReply

pytestmark = pytest.mark.e2e

WEATHER: Any = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
        "required": ["city"],
    },
}
TIME: Any = {
    "name": "get_time",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}
PARALLEL = "Call get_weather for Paris and get_time for Tokyo, both at once."
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c63f8cf00000301010018dd8db00000000049454e44ae426082"
    )
).decode()
NATIVE = "anthropic"  # the backend that takes the Messages format as is


@pytest_asyncio.fixture
async def claude(edge: Edge) -> AsyncIterator[anthropic.AsyncAnthropic]:
    """The SDK as Claude Code would be pointed at the gateway (ANTHROPIC_BASE_URL)."""
    async with anthropic.AsyncAnthropic(
        base_url=edge.url, api_key=edge.admin_key, max_retries=0
    ) as sdk:
        yield sdk


def _upstream(edge: Edge, backend: str) -> Any:
    return getattr(edge.upstreams, backend, None)


def _last_body(edge: Edge, backend: str) -> dict[str, Any]:
    body: dict[str, Any] = _upstream(edge, backend).requests[-1].body
    return body


def _user(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


def _use(id_: str, name: str, input_: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_use", "id": id_, "name": name, "input": input_}


def _result(id_: str, content: Any) -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": id_, "content": content}


@pytest.mark.parametrize("backend", BACKENDS)
async def test_text(claude: anthropic.AsyncAnthropic, backend: str) -> None:
    message = await claude.messages.create(
        model=MESSAGES_MODELS[backend], max_tokens=64, messages=_user("Hello")
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
        model=MESSAGES_MODELS[backend], max_tokens=64, system=system, messages=_user("Hi")
    )
    assert message.content
    if backend == NATIVE:  # every block and breakpoint, as sent
        assert _last_body(edge, backend)["system"] == system
    elif _upstream(edge, backend) is not None:
        first = _last_body(edge, backend)["messages"][0]
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
        assert _last_body(edge, backend)["messages"] == turns
    elif _upstream(edge, backend) is not None:
        roles = [m["role"] for m in _last_body(edge, backend)["messages"]]
        assert roles == ["user", "assistant", "user"]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_tools(claude: anthropic.AsyncAnthropic, backend: str) -> None:
    message = await claude.messages.create(
        model=MESSAGES_MODELS[backend],
        max_tokens=128,
        tools=[WEATHER],
        tool_choice={"type": "any"},
        messages=_user("What is the weather in Paris?"),
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
        messages=_user(PARALLEL),
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
                _use("toolu_a1", "get_weather", {"city": "Paris"}),
                _use("toolu_b2", "get_time", {"city": "Tokyo"}),
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_a1", "content": "18C and sunny"},
                _result("toolu_b2", [{"type": "text", "text": "09:00"}]),
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
        assert _last_body(edge, backend)["messages"] == turns
    elif _upstream(edge, backend) is not None:
        sent = _last_body(edge, backend)["messages"]
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
        assert _last_body(edge, backend)["messages"][0]["content"][1]["source"] == image
    elif _upstream(edge, backend) is not None:
        part = _last_body(edge, backend)["messages"][0]["content"][1]
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
        messages=_user("Name a city as JSON."),
        extra_body={"output_config": {"format": {"type": "json_schema", "schema": schema}}},
    )
    block = message.content[0]
    assert block.type == "text"
    assert isinstance(json.loads(block.text), dict)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_stop_reasons(edge: Edge, claude: anthropic.AsyncAnthropic, backend: str) -> None:
    upstream = _upstream(edge, backend)
    if backend == NATIVE:
        upstream.enqueue(AnthropicReply(stop_reason="max_tokens"))
    elif upstream is not None:
        upstream.enqueue(CompatReply(finish_reason="length"))
    message = await claude.messages.create(
        model=MESSAGES_MODELS[backend],
        max_tokens=3,  # the mock truncates at the limit itself
        messages=_user("Tell me a long story about the sea and the sky."),
    )
    assert message.stop_reason == "max_tokens"


@pytest.mark.parametrize("backend", BACKENDS)
async def test_usage_with_cache_tokens(
    edge: Edge, claude: anthropic.AsyncAnthropic, backend: str
) -> None:
    upstream = _upstream(edge, backend)
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
        model=MESSAGES_MODELS[backend], max_tokens=64, messages=_user("Hello")
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
    whole = await claude.messages.create(model=model, max_tokens=64, messages=_user("Hello"))
    async with claude.messages.stream(
        model=model, max_tokens=64, messages=_user("Hello")
    ) as stream:
        pieces = [piece async for piece in stream.text_stream]
        final = await stream.get_final_message()
    assert pieces and "".join(pieces) == final.content[0].text  # type: ignore[union-attr]
    assert final.content[0].text == whole.content[0].text  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0 and final.usage.input_tokens > 0
    events = await _raw_events(edge, {"model": model, "max_tokens": 64, "messages": _user("Hello")})
    _assert_framing(events)
    assert events[0][1]["message"]["usage"]["input_tokens"] > 0  # never 0/0


@pytest.mark.parametrize("backend", BACKENDS)
async def test_streaming_tools(edge: Edge, claude: anthropic.AsyncAnthropic, backend: str) -> None:
    async with claude.messages.stream(
        model=MESSAGES_MODELS[backend],
        max_tokens=128,
        tools=[WEATHER, TIME],
        tool_choice={"type": "any"},
        messages=_user(PARALLEL),
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
            "messages": _user(PARALLEL),
        },
    )
    _assert_framing(events)
    kinds = {d["delta"]["type"] for n, d in events if n == "content_block_delta"}
    assert "input_json_delta" in kinds


@pytest.mark.parametrize("backend", BACKENDS)
async def test_errors(edge: Edge, claude: anthropic.AsyncAnthropic, backend: str) -> None:
    model = MESSAGES_MODELS[backend]
    with pytest.raises(anthropic.BadRequestError) as bad:
        await claude.messages.create(model=model, max_tokens=0, messages=_user("Hi"))
    assert bad.value.body["type"] == "error"  # type: ignore[index]
    assert bad.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    with pytest.raises(anthropic.NotFoundError) as missing:
        await claude.messages.create(
            model="no-such-model-anywhere",
            max_tokens=8,
            messages=_user("Hi"),
        )
    assert missing.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    async with anthropic.AsyncAnthropic(
        base_url=edge.url, api_key="wrong", max_retries=0
    ) as bad_key:
        with pytest.raises(anthropic.AuthenticationError) as denied:
            await bad_key.messages.create(model=model, max_tokens=8, messages=_user("Hi"))
    assert denied.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]


async def test_capacity_is_529_overloaded(claude: anthropic.AsyncAnthropic) -> None:
    with pytest.raises(anthropic.OverloadedError) as caught:
        await claude.messages.create(model="mock/overloaded", max_tokens=8, messages=_user("Hi"))
    assert caught.value.status_code == 529
    assert caught.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]


async def test_midstream_error_arrives_in_band(
    edge: Edge, claude: anthropic.AsyncAnthropic
) -> None:
    upstream = _upstream(edge, NATIVE)
    upstream.enqueue(AnthropicReply(content=[text_block("a long answer")], error_after=4))
    with pytest.raises(anthropic.APIStatusError) as caught:
        async with claude.messages.stream(
            model=MESSAGES_MODELS[NATIVE], max_tokens=64, messages=_user("Hello")
        ) as stream:
            async for _ in stream:
                pass
    assert "overloaded" in str(caught.value).lower()


async def test_midstream_error_on_a_translated_stream_arrives_in_band(
    edge: Edge, claude: anthropic.AsyncAnthropic
) -> None:
    events: list[str] = []
    with pytest.raises(anthropic.APIStatusError):
        async with claude.messages.stream(
            model="mock/echo",
            max_tokens=64,
            messages=_user("Tell me a long story about the sea."),
            extra_body={"mock": {"fault_status": 503, "fail_after_chunks": 2}},
        ) as stream:
            async for event in stream:
                events.append(event.type)
    assert events[0] == "message_start"  # the stream had begun: the error came in-band
    assert "message_stop" not in events


async def test_thinking_passes_through_with_its_signature(
    edge: Edge, claude: anthropic.AsyncAnthropic
) -> None:
    upstream = _upstream(edge, NATIVE)
    reply = [thinking_block("Let me think.", "sig-abc=="), text_block("42")]
    upstream.enqueue(AnthropicReply(content=reply), AnthropicReply(content=reply))
    model = MESSAGES_MODELS[NATIVE]
    budget: Any = {"type": "enabled", "budget_tokens": 1024}
    question = _user("What is six times seven?")
    message = await claude.messages.create(
        model=model,
        max_tokens=2048,
        thinking=budget,
        messages=question,
    )
    assert message.content[0].type == "thinking"
    assert message.content[0].signature == "sig-abc=="
    assert _last_body(edge, NATIVE)["thinking"] == budget
    async with claude.messages.stream(
        model=model,
        max_tokens=2048,
        thinking=budget,
        messages=question,
    ) as stream:
        final = await stream.get_final_message()
    assert final.content[0].type == "thinking"
    assert final.content[0].thinking == "Let me think."
    assert final.content[0].signature == "sig-abc=="


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != NATIVE])
async def test_thinking_is_refused_by_name_elsewhere(
    claude: anthropic.AsyncAnthropic, backend: str
) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        await claude.messages.create(
            model=MESSAGES_MODELS[backend],
            max_tokens=2048,
            thinking={"type": "enabled", "budget_tokens": 1024},
            messages=_user("Hi"),
        )
    assert "'thinking'" in caught.value.body["error"]["message"]  # type: ignore[index]


async def test_beta_and_version_headers_reach_the_native_backend_only(
    edge: Edge, claude: anthropic.AsyncAnthropic
) -> None:
    beta = "context-management-2025-06-27,token-efficient-tools-2025-02-19"
    await claude.messages.create(
        model=MESSAGES_MODELS[NATIVE],
        max_tokens=16,
        messages=_user("Hi"),
        extra_headers={"anthropic-beta": beta, "anthropic-version": "2023-06-01"},
    )
    headers = _upstream(edge, NATIVE).requests[-1].headers
    assert headers["anthropic-beta"] == beta
    assert headers["anthropic-version"] == "2023-06-01"
    await claude.messages.create(
        model=MESSAGES_MODELS["openai"],
        max_tokens=16,
        messages=_user("Hi"),
        extra_headers={"anthropic-beta": beta},
    )
    assert "anthropic-beta" not in _upstream(edge, "openai").requests[-1].headers


@pytest.mark.parametrize("backend", BACKENDS)
async def test_count_tokens(edge: Edge, backend: str) -> None:
    body = {"model": MESSAGES_MODELS[backend], "messages": _user("How many tokens is this?")}
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
        assert _upstream(edge, NATIVE).requests[-1].path == "/v1/messages/count_tokens"


async def test_count_tokens_with_the_sdk(claude: anthropic.AsyncAnthropic) -> None:
    counted = await claude.messages.count_tokens(
        model=MESSAGES_MODELS["openai"], messages=_user("Hello there")
    )
    assert counted.input_tokens > 0


async def test_bearer_auth_works_too(edge: Edge) -> None:
    async with httpx2.AsyncClient(timeout=30) as http:
        response = await http.post(
            f"{edge.url}/v1/messages",
            headers={"authorization": f"Bearer {edge.admin_key}"},
            json={"model": "mock/echo", "max_tokens": 16, "messages": _user("Hi")},
        )
    assert response.status_code == 200
    assert response.json()["type"] == "message"


async def test_edge_errors_on_messages_paths_have_the_messages_shape(edge: Edge) -> None:
    async with httpx2.AsyncClient(timeout=30) as http:
        response = await http.post(
            f"{edge.url}/v1/messages",
            headers={"x-api-key": edge.admin_key},
            content=b"{not json",
        )
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"


async def test_the_edge_own_errors_on_messages_paths_have_the_messages_shape(edge: Edge) -> None:
    async with httpx2.AsyncClient(timeout=30) as http:
        response = await http.get(f"{edge.url}/v1/messages", headers={"x-api-key": edge.admin_key})
    assert response.status_code == 404
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == "not_found_error"
    assert body["error"]["message"]


async def test_claude_codes_beta_query_parameter_is_accepted(edge: Edge) -> None:
    async with httpx2.AsyncClient(timeout=30) as http:
        response = await http.post(
            f"{edge.url}/v1/messages?beta=true",
            headers={"x-api-key": edge.admin_key, "anthropic-beta": "oauth-2025-04-20"},
            json={"model": "mock/echo", "max_tokens": 16, "messages": _user("Hi")},
        )
    assert response.status_code == 200, response.text
    assert response.json()["type"] == "message"
