"""The emulator speaks the real wire format: the official `openai` SDK parses it.

Used against OpenAI mode and Groq mode (Groq documents the OpenAI SDK as a client
with base URL https://api.groq.com/openai/v1).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx2
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from tests.emulators.openai_compat import Fault, OpenAICompatEmulator, Reply, ToolCall

KEY = "sk-emulator-test-key-000000"


@pytest.fixture(params=["openai", "groq"])
async def emu(request: pytest.FixtureRequest) -> AsyncIterator[OpenAICompatEmulator]:
    async with OpenAICompatEmulator(request.param, api_keys=(KEY,)) as emulator:
        yield emulator


@pytest.fixture
async def client(emu: OpenAICompatEmulator) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=emu.sdk_base_url, api_key=KEY, max_retries=0) as c:
        yield c


MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello"}]


async def test_chat_completion_parses(client: openai.AsyncOpenAI) -> None:
    completion = await client.chat.completions.create(model="m", messages=MESSAGES)
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == "Hello! How can I help you today?"
    assert completion.usage is not None and completion.usage.total_tokens == 14


async def test_stream_with_usage_parses(
    client: openai.AsyncOpenAI, emu: OpenAICompatEmulator
) -> None:
    stream = await client.chat.completions.create(
        model="m",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello! How can I help you today?"
    assert {c.id for c in chunks} == {chunks[0].id}
    raw = await _raw_stream(emu)
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert raw.text.endswith("data: [DONE]\n\n")
    assert all(block.startswith("data: ") for block in raw.text.split("\n\n") if block)


async def test_streamed_parallel_tool_calls_parse(
    client: openai.AsyncOpenAI, emu: OpenAICompatEmulator
) -> None:
    calls = (ToolCall(name="a", arguments='{"x": 1}'), ToolCall(name="b", arguments='{"y": 2}'))
    emu.enqueue(Reply(text=None, tool_calls=calls))
    stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    arguments: dict[int, str] = {}
    async for chunk in stream:
        for delta in chunk.choices[0].delta.tool_calls or [] if chunk.choices else []:
            assert delta.function is not None
            arguments[delta.index] = arguments.get(delta.index, "") + (
                delta.function.arguments or ""
            )
    assert {i: json.loads(a) for i, a in arguments.items()} == {0: {"x": 1}, 1: {"y": 2}}


@pytest.mark.parametrize(
    ("fault", "exception"),
    [
        (Fault(status=429, retry_after="3"), openai.RateLimitError),
        (Fault(status=500), openai.InternalServerError),
        (Fault(status=503), openai.InternalServerError),
        (Fault(status=400, param="messages"), openai.BadRequestError),
    ],
)
async def test_faults_map_to_the_sdk_exceptions(
    client: openai.AsyncOpenAI,
    emu: OpenAICompatEmulator,
    fault: Fault,
    exception: type[openai.APIStatusError],
) -> None:
    emu.enqueue(fault)
    with pytest.raises(exception) as caught:
        await client.chat.completions.create(model="m", messages=MESSAGES)
    error = caught.value
    assert isinstance(error.body, dict) and error.body["message"]
    assert ("param" in error.body) == (emu.flavor == "openai")
    assert error.response.headers["x-ratelimit-limit-requests"]
    if fault.retry_after:
        assert error.response.headers["retry-after"] == fault.retry_after


async def test_wrong_key_is_401_with_the_providers_body(emu: OpenAICompatEmulator) -> None:
    async with openai.AsyncOpenAI(
        base_url=emu.sdk_base_url, api_key="sk-not-the-right-one-1234", max_retries=0
    ) as bad:
        with pytest.raises(openai.AuthenticationError) as caught:
            await bad.chat.completions.create(model="m", messages=MESSAGES)
    assert caught.value.code == "invalid_api_key"


async def test_unknown_paths_are_404(emu: OpenAICompatEmulator) -> None:
    async with httpx2.AsyncClient() as http:
        response = await http.post(
            emu.root_url + "/v1/images/generations",
            headers={"authorization": f"Bearer {KEY}"},
            json={},
        )
    assert response.status_code == 404
    assert response.json()["error"]["message"]


async def test_legacy_completions_only_on_openai(
    client: openai.AsyncOpenAI, emu: OpenAICompatEmulator
) -> None:
    if emu.flavor == "groq":
        with pytest.raises(openai.NotFoundError):
            await client.completions.create(model="m", prompt="Say hi")
        return
    completion = await client.completions.create(model="m", prompt="Say hi", logprobs=1)
    assert completion.object == "text_completion"
    assert completion.choices[0].logprobs is not None


async def _raw_stream(emu: OpenAICompatEmulator) -> httpx2.Response:
    body = {"model": "m", "messages": MESSAGES, "stream": True}
    async with httpx2.AsyncClient() as http:
        return await http.post(
            emu.sdk_base_url + "/chat/completions",
            headers={"authorization": f"Bearer {KEY}"},
            json=body,
        )
