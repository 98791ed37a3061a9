"""Messages API request → unified request: every mapping the surface promises, and
every feature that cannot be carried named in `untranslatable` (never dropped
silently)."""

from __future__ import annotations

from typing import Any

import pytest

from services.kernel.errors import GatewayError
from services.router.surfaces.messages.request import (
    count_request,
    safe_tool_id,
    to_unified,
    validate_request,
)

PNG = "iVBORw0KGgo="


def _body(**extra: Any) -> dict[str, Any]:
    return {
        "model": "mock/echo",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "Hi"}],
        **extra,
    }


def test_system_blocks_become_one_system_message_and_cache_control_is_dropped() -> None:
    system = [
        {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "Be kind."},
    ]
    out = to_unified(_body(system=system))
    assert out.unified["messages"][0] == {"role": "system", "content": "Be brief.\n\nBe kind."}
    assert out.untranslatable == ()


def test_a_tool_loop_maps_both_ways_with_parallel_results_in_order() -> None:
    messages = [
        {"role": "user", "content": "Weather in Paris and Tokyo?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "w", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "functions.w:2", "name": "w", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                {
                    "type": "tool_result",
                    "tool_use_id": "functions.w:2",
                    "content": [{"type": "text", "text": "25C"}],
                    "is_error": True,
                },
                {"type": "text", "text": "Thanks"},
            ],
        },
    ]
    tools = [{"name": "w", "description": "Weather", "input_schema": {"type": "object"}}]
    out = to_unified(
        _body(
            messages=messages,
            tools=tools,
            tool_choice={"type": "any", "disable_parallel_tool_use": True},
        )
    ).unified
    assistant, first, second, user = out["messages"][1:]
    assert assistant["content"] == "Checking."
    assert [c["id"] for c in assistant["tool_calls"]] == ["toolu_1", "functions_w_2"]
    assert assistant["tool_calls"][0]["function"] == {"name": "w", "arguments": '{"city":"Paris"}'}
    assert first == {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"}
    assert second == {"role": "tool", "tool_call_id": "functions_w_2", "content": "Error: 25C"}
    assert user == {"role": "user", "content": [{"type": "text", "text": "Thanks"}]}
    assert out["tools"] == [
        {
            "type": "function",
            "function": {"name": "w", "parameters": {"type": "object"}, "description": "Weather"},
        }
    ]
    assert out["tool_choice"] == "required"
    assert out["parallel_tool_calls"] is False


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, "auto"),
        ({"type": "none"}, "none"),
        ({"type": "tool", "name": "w"}, {"type": "function", "function": {"name": "w"}}),
    ],
)
def test_tool_choice(choice: dict[str, Any], expected: Any) -> None:
    tools = [{"name": "w", "input_schema": {"type": "object"}}]
    assert to_unified(_body(tools=tools, tool_choice=choice)).unified["tool_choice"] == expected


def test_images_keep_their_media_type_and_urls() -> None:
    content = [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
    ]
    parts = to_unified(_body(messages=[{"role": "user", "content": content}])).unified["messages"][
        0
    ]["content"]
    assert parts == [
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
    ]


def test_sampling_stops_metadata_output_format_and_stream() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    out = to_unified(
        _body(
            temperature=0.5,
            top_p=0.9,
            stop_sequences=["END"],
            metadata={"user_id": "u-1"},
            output_config={"format": {"type": "json_schema", "schema": schema}},
            stream=True,
        )
    ).unified
    assert out["temperature"] == 0.5 and out["top_p"] == 0.9
    assert out["stop"] == ["END"]
    assert out["user"] == "u-1"
    assert out["max_tokens"] == 64
    assert out["response_format"]["json_schema"]["schema"] == schema
    assert out["stream"] is True and out["stream_options"] == {"include_usage": True}


def test_earlier_thinking_is_dropped_for_a_translated_backend() -> None:
    assistant = {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "sig"},
            {"type": "redacted_thinking", "data": "opaque"},
            {"type": "text", "text": "Answer"},
        ],
    }
    messages = [{"role": "user", "content": "Q"}, assistant, {"role": "user", "content": "Q2"}]
    out = to_unified(_body(messages=messages))
    assert out.unified["messages"][1] == {"role": "assistant", "content": "Answer"}
    assert out.untranslatable == ()


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, "thinking"),
        ({"top_k": 5}, "top_k"),
        ({"context_management": {}}, "context_management"),
        ({"service_tier": "standard_only"}, "service_tier"),
        (
            {"tools": [{"type": "web_search_20250305", "name": "web_search"}]},
            "tools.0.web_search_20250305",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "document", "source": {"type": "text", "data": "x"}}],
                    }
                ]
            },
            "messages.0.content.0.document",
        ),
    ],
)
def test_what_cannot_be_carried_is_named(extra: dict[str, Any], named: str) -> None:
    assert named in to_unified(_body(**extra)).untranslatable


def test_other_unknown_fields_pass_through_for_the_backend_to_judge() -> None:
    out = to_unified(_body(mock={"latency_ms": 1}, agentopia={"requirements": {}}))
    assert out.unified["mock"] == {"latency_ms": 1}
    assert out.unified["agentopia"] == {"requirements": {}}
    assert out.untranslatable == ()


def test_images_in_tool_results_are_named_not_dropped() -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
    messages = [
        {"role": "user", "content": "Shot?"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t", "name": "s", "input": {}}],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "t", "content": [image]}],
        },
    ]
    lost = to_unified(_body(messages=messages)).untranslatable
    assert lost == ("messages.2.content.0.tool_result.content.0.image",)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": "m", "max_tokens": 5, "messages": []}, "messages"),
        (
            {"model": "m", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]},
            "messages.0.role",
        ),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
    ],
)
def test_what_the_router_needs_is_checked(body: dict[str, Any], param: str) -> None:
    with pytest.raises(GatewayError) as caught:
        validate_request(body)
    assert caught.value.http_status == 400
    assert caught.value.param == param


def test_count_tokens_needs_no_max_tokens() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    assert validate_request(body, counting=True) == "m"
    assert count_request(body)["messages"] == [{"role": "user", "content": "x"}]


def test_tool_ids_are_made_valid_deterministically() -> None:
    assert safe_tool_id("functions.Bash:0") == "functions_Bash_0"
    assert safe_tool_id("call_abc-1") == "call_abc-1"
