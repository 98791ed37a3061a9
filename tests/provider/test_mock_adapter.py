"""The mock provider: deterministic OpenAI-exact shapes, tools, JSON modes."""

from __future__ import annotations

import orjson

from services.provider.adapters.base import Operation
from services.provider.adapters.mock.tokens import count_text
from tests.provider.mock_support import TIME, USER, WEATHER, drain, make_call, mock


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
