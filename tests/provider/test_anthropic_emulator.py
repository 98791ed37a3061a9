"""The Anthropic emulator speaks the real wire format (proved with the official SDK)
and refuses what the real API refuses, with its error bodies."""

from __future__ import annotations

from typing import Any

import aiohttp
import anthropic
import pytest

from tests.emulators.anthropic import AnthropicEmulator, Fault, Reply, text, tool_use

KEY = "sk-ant-emulator-key"
WEATHER = {"name": "get_weather", "input_schema": {"type": "object", "properties": {}}}
TWO_CALLS = Reply(
    content=[
        text("Checking both."),
        tool_use("toolu_01", "get_weather", {"city": "Paris", "unit": "celsius"}),
        tool_use("toolu_02", "get_weather", {"city": "Tokyo", "unit": "celsius"}),
    ],
    stop_reason="tool_use",
    input_tokens=40,
    output_tokens=30,
    cache_read_input_tokens=100,
    cache_creation_input_tokens=20,
    json_chunk=3,
)


def _sdk(emu: AnthropicEmulator) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(api_key=KEY, base_url=emu.base_url, max_retries=0)


async def test_official_sdk_reads_a_message() -> None:
    async with AnthropicEmulator() as emu:
        emu.enqueue(TWO_CALLS)
        client = _sdk(emu)
        message = await client.messages.create(
            model="claude-test",
            max_tokens=64,
            tools=[WEATHER],  # type: ignore[list-item]
            messages=[{"role": "user", "content": "Weather in Paris and Tokyo?"}],
        )
        await client.close()
    assert message.stop_reason == "tool_use"
    assert [b.type for b in message.content] == ["text", "tool_use", "tool_use"]
    assert message.usage.cache_read_input_tokens == 100
    assert (message._request_id or "").startswith("req_emu")
    assert emu.last.headers["authorization"] == f"Bearer {KEY}"  # SDK 2.x auth


async def test_official_sdk_accumulates_a_fragmented_stream() -> None:
    async with AnthropicEmulator() as emu:
        emu.enqueue(TWO_CALLS)
        client = _sdk(emu)
        async with client.messages.stream(
            model="claude-test",
            max_tokens=64,
            tools=[WEATHER],  # type: ignore[list-item]
            messages=[{"role": "user", "content": "Weather?"}],
        ) as stream:
            kinds = [event.type async for event in stream]
            final = await stream.get_final_message()
        await client.close()
    assert kinds.count("input_json") > 4  # fragmented input_json_delta
    inputs = [b.input for b in final.content if b.type == "tool_use"]
    assert inputs == [{"city": "Paris", "unit": "celsius"}, {"city": "Tokyo", "unit": "celsius"}]
    assert final.usage.output_tokens == 30
    assert final.usage.input_tokens == 40


async def test_official_sdk_sees_a_mid_stream_error_event() -> None:
    async with AnthropicEmulator() as emu:
        emu.enqueue(Reply(error_after=3))
        client = _sdk(emu)
        with pytest.raises(anthropic.APIStatusError) as caught:
            async with client.messages.stream(
                model="claude-test", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
            ) as stream:
                async for _ in stream:
                    pass
        await client.close()
    assert "Overloaded" in str(caught.value)


@pytest.mark.parametrize(
    ("status", "exc"),
    [
        (529, anthropic.InternalServerError),
        (429, anthropic.RateLimitError),
        (401, anthropic.AuthenticationError),
    ],
)
async def test_official_sdk_maps_scripted_faults(status: int, exc: type[Exception]) -> None:
    async with AnthropicEmulator() as emu:
        emu.enqueue(Fault(status, message="scripted", retry_after="2"))
        client = _sdk(emu)
        with pytest.raises(exc):
            await client.messages.create(
                model="m", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
            )
        await client.close()


async def _raw(emu: AnthropicEmulator, body: Any, **headers: str) -> tuple[int, Any]:
    base = {"x-api-key": KEY, "anthropic-version": "2023-06-01", "content-type": "application/json"}
    base.update({k.replace("_", "-"): v for k, v in headers.items()})
    base = {k: v for k, v in base.items() if v}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{emu.base_url}/v1/messages", json=body, headers=base) as response,
    ):
        return response.status, await response.json(content_type=None)


OK = {"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
USE = {"role": "assistant", "content": [tool_use("toolu_1", "get_weather", {})]}
RESULT = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1"}]}
SVG = {"type": "image", "source": {"type": "base64", "media_type": "image/svg+xml", "data": "AAAA"}}


@pytest.mark.parametrize(
    ("body", "headers", "status", "says"),
    [
        (OK, {"x_api_key": ""}, 401, "x-api-key header is required"),
        (OK, {"x_api_key": "sk-ant-wrong"}, 401, "invalid x-api-key"),
        (OK, {"anthropic_version": ""}, 400, "anthropic-version: header is required"),
        ({**OK, "max_tokens": None}, {}, 400, "max_tokens"),
        ({k: v for k, v in OK.items() if k != "max_tokens"}, {}, 400, "max_tokens: Field"),
        ({**OK, "n": 1}, {}, 400, "n: Extra inputs are not permitted"),
        ({**OK, "temperature": 1.5}, {}, 400, "less than or equal to 1"),
        ({**OK, "temperature": 0.5}, {"anthropic_version": "2026-10-21"}, 400, "temperature"),
        (
            {**OK, "messages": [{"role": "system", "content": "x"}]},
            {},
            400,
            "'user' or 'assistant'",
        ),
        ({**OK, "messages": [{"role": "assistant", "content": "x"}]}, {}, 400, "first message"),
        ({**OK, "messages": [OK["messages"][0]] * 2}, {}, 400, 'multiple "user" roles'),
        ({**OK, "messages": [OK["messages"][0], USE, RESULT]}, {}, 400, "not in tools"),
        (
            {**OK, "tools": [WEATHER], "messages": [OK["messages"][0], USE, OK["messages"][0]]},
            {},
            400,
            "without `tool_result` blocks immediately after: toolu_1",
        ),
        ({**OK, "messages": [RESULT]}, {}, 400, "unexpected `tool_use_id`"),
        (
            {
                **OK,
                "tools": [WEATHER],
                "messages": [
                    OK["messages"][0],
                    USE,
                    {"role": "user", "content": [text("x"), *RESULT["content"]]},
                ],
            },
            {},
            400,
            "tool_result blocks must come first",
        ),
        ({**OK, "messages": [{"role": "user", "content": [text("")]}]}, {}, 400, "non-empty"),
        ({**OK, "tool_choice": {"type": "any"}}, {}, 400, "while providing tools"),
        ({**OK, "messages": [{"role": "user", "content": [SVG]}]}, {}, 400, "media_type"),
        ({**OK, "temperature": 0.5, "top_p": 0.9, "stop_sequences": ["x"]}, {}, 200, None),
        ({**OK, "tools": [WEATHER], "messages": [OK["messages"][0], USE, RESULT]}, {}, 200, None),
    ],
)
async def test_emulator_validates_like_the_api(
    body: Any, headers: dict[str, str], status: int, says: str | None
) -> None:
    async with AnthropicEmulator() as emu:
        got_status, payload = await _raw(emu, body, **headers)
    assert got_status == status, payload
    if says is None:
        assert payload["type"] == "message"
        return
    assert payload["type"] == "error"
    assert payload["request_id"].startswith("req_")
    assert says in payload["error"]["message"]
