"""The typed API mirrors the OpenAI shape: conversion loses nothing callers set."""

from __future__ import annotations

from agentopia.v1 import chat_pb2, completion_pb2

from services.router import typed_codec


def test_chat_request_to_json_covers_polymorphic_fields() -> None:
    request = chat_pb2.ChatCompletionRequest(model="mock/echo", seed=2**40, n=2)
    request.messages.add(role="system", text="be brief")
    user = request.messages.add(role="user")
    user.parts.parts.add(text="what is this?")
    user.parts.parts.add().image_url.url = "data:image/png;base64,AAAA"
    assistant = request.messages.add(role="assistant")
    call = assistant.tool_calls.add(id="call_1", type="function")
    call.function.name = "lookup"
    call.function.arguments = '{"q": "x"}'
    request.messages.add(role="tool", text="result", tool_call_id="call_1")
    tool = request.tools.add(type="function")
    tool.function.name = "lookup"
    tool.function.parameters.update({"type": "object", "properties": {"q": {"type": "string"}}})
    request.tool_choice.function_name = "lookup"
    request.stop.extend(["\n\n"])
    request.response_format.type = "json_object"
    request.stream_options.include_usage = True
    request.extra_body.update({"vendor_knob": True})

    body = typed_codec.chat_request_to_json(request)

    assert body["seed"] == 2**40 and isinstance(body["seed"], int)
    assert body["n"] == 2
    assert body["messages"][0] == {"role": "system", "content": "be brief"}
    assert body["messages"][1]["content"] == [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
    ]
    assert body["messages"][2]["tool_calls"] == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "lookup", "arguments": '{"q": "x"}'},
        }
    ]
    assert body["messages"][3] == {"role": "tool", "content": "result", "tool_call_id": "call_1"}
    assert body["tools"][0]["function"]["parameters"]["properties"]["q"] == {"type": "string"}
    assert body["tool_choice"] == {"type": "function", "function": {"name": "lookup"}}
    assert body["stop"] == ["\n\n"]
    assert body["response_format"] == {"type": "json_object"}
    assert body["stream_options"] == {"include_usage": True}
    assert body["vendor_knob"] is True
    assert "temperature" not in body


def test_chat_completion_from_json() -> None:
    data = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "mock/echo",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "total_tokens": 15,
            "prompt_tokens_details": {"cached_tokens": 4},
            "completion_tokens_details": {"reasoning_tokens": 2},
        },
    }
    typed = typed_codec.chat_completion_from_json(data)
    assert typed.created == 1_700_000_000
    assert typed.choices[0].finish_reason == "tool_calls"
    assert typed.choices[0].message.tool_calls[0].function.name == "f"
    assert typed.usage.cached_tokens == 4 and typed.usage.reasoning_tokens == 2


def test_chunk_and_completion_from_json() -> None:
    chunk = typed_codec.chat_chunk_from_json(
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}}],
        }
    )
    assert chunk.choices[0].delta.text == "Hi"
    assert not chunk.choices[0].HasField("finish_reason")
    completion = typed_codec.completion_from_json(
        {
            "id": "x",
            "object": "text_completion",
            "created": 2,
            "model": "m",
            "choices": [{"index": 0, "text": "ok", "finish_reason": "stop"}],
        }
    )
    assert completion.choices[0].text == "ok"


def test_completion_request_to_json() -> None:
    request = completion_pb2.CompletionRequest(model="mock/echo", prompt=["Say hi"], max_tokens=5)
    body = typed_codec.completion_request_to_json(request)
    assert body == {"model": "mock/echo", "prompt": "Say hi", "max_tokens": 5}
