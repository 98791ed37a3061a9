"""The Messages surface's protocol around the features of the matrix, through the real
edge with the official `anthropic` SDK: capacity and mid-stream errors, thinking blocks
and their signatures, version and beta headers, token counting with the SDK, Bearer
auth, and the edge's own errors in the Messages shape.
"""

from __future__ import annotations

from typing import Any

import anthropic
import httpx2
import pytest

from tests.e2e.conftest import Edge
from tests.e2e.surfaces.matrix import BACKENDS, MESSAGES_MODELS
from tests.e2e.surfaces.messages_support import (
    NATIVE,
    emulator,
    last_body,
    user,
)
from tests.emulators.anthropic import Reply as AnthropicReply
from tests.emulators.anthropic import text as text_block
from tests.emulators.anthropic import thinking as thinking_block

pytestmark = pytest.mark.e2e


async def test_capacity_is_529_overloaded(claude: anthropic.AsyncAnthropic) -> None:
    with pytest.raises(anthropic.OverloadedError) as caught:
        await claude.messages.create(model="mock/overloaded", max_tokens=8, messages=user("Hi"))
    assert caught.value.status_code == 529
    assert caught.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]


async def test_midstream_error_arrives_in_band(
    edge: Edge, claude: anthropic.AsyncAnthropic
) -> None:
    upstream = emulator(edge, NATIVE)
    upstream.enqueue(AnthropicReply(content=[text_block("a long answer")], error_after=4))
    with pytest.raises(anthropic.APIStatusError) as caught:
        async with claude.messages.stream(
            model=MESSAGES_MODELS[NATIVE], max_tokens=64, messages=user("Hello")
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
            messages=user("Tell me a long story about the sea."),
            extra_body={"mock": {"fault_status": 503, "fail_after_chunks": 2}},
        ) as stream:
            async for event in stream:
                events.append(event.type)
    assert events[0] == "message_start"  # the stream had begun: the error came in-band
    assert "message_stop" not in events


async def test_thinking_passes_through_with_its_signature(
    edge: Edge, claude: anthropic.AsyncAnthropic
) -> None:
    upstream = emulator(edge, NATIVE)
    reply = [thinking_block("Let me think.", "sig-abc=="), text_block("42")]
    upstream.enqueue(AnthropicReply(content=reply), AnthropicReply(content=reply))
    model = MESSAGES_MODELS[NATIVE]
    budget: Any = {"type": "enabled", "budget_tokens": 1024}
    question = user("What is six times seven?")
    message = await claude.messages.create(
        model=model,
        max_tokens=2048,
        thinking=budget,
        messages=question,
    )
    assert message.content[0].type == "thinking"
    assert message.content[0].signature == "sig-abc=="
    assert last_body(edge, NATIVE)["thinking"] == budget
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
            messages=user("Hi"),
        )
    assert "'thinking'" in caught.value.body["error"]["message"]  # type: ignore[index]


async def test_beta_and_version_headers_reach_the_native_backend_only(
    edge: Edge, claude: anthropic.AsyncAnthropic
) -> None:
    beta = "context-management-2025-06-27,token-efficient-tools-2025-02-19"
    await claude.messages.create(
        model=MESSAGES_MODELS[NATIVE],
        max_tokens=16,
        messages=user("Hi"),
        extra_headers={"anthropic-beta": beta, "anthropic-version": "2023-06-01"},
    )
    headers = emulator(edge, NATIVE).requests[-1].headers
    assert headers["anthropic-beta"] == beta
    assert headers["anthropic-version"] == "2023-06-01"
    await claude.messages.create(
        model=MESSAGES_MODELS["openai"],
        max_tokens=16,
        messages=user("Hi"),
        extra_headers={"anthropic-beta": beta},
    )
    assert "anthropic-beta" not in emulator(edge, "openai").requests[-1].headers


async def test_count_tokens_with_the_sdk(claude: anthropic.AsyncAnthropic) -> None:
    counted = await claude.messages.count_tokens(
        model=MESSAGES_MODELS["openai"], messages=user("Hello there")
    )
    assert counted.input_tokens > 0


async def test_bearer_auth_works_too(edge: Edge) -> None:
    async with httpx2.AsyncClient(timeout=30) as http:
        response = await http.post(
            f"{edge.url}/v1/messages",
            headers={"authorization": f"Bearer {edge.admin_key}"},
            json={"model": "mock/echo", "max_tokens": 16, "messages": user("Hi")},
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
            json={"model": "mock/echo", "max_tokens": 16, "messages": user("Hi")},
        )
    assert response.status_code == 200, response.text
    assert response.json()["type"] == "message"
