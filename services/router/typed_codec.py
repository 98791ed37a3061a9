"""Conversion between the typed gRPC messages (chat.proto, completion.proto) and
the OpenAI-shaped JSON the pipeline speaks. Only typed callers pay for it.

Hand-written rather than json_format: the JSON shapes are polymorphic (content
is a string or a list of parts; tool_choice a string or an object) and int64
fields would otherwise come out as strings.
"""

from __future__ import annotations

from typing import Any

from agentopia.v1 import chat_pb2, completion_pb2, embedding_pb2
from google.protobuf import json_format, struct_pb2

__all__ = [
    "chat_chunk_from_json",
    "chat_completion_from_json",
    "chat_request_to_json",
    "completion_from_json",
    "completion_request_to_json",
    "embedding_request_to_json",
    "embedding_response_from_json",
]

Json = dict[str, Any]

_CHAT_OPTIONAL = (
    "temperature",
    "top_p",
    "n",
    "max_completion_tokens",
    "max_tokens",
    "presence_penalty",
    "frequency_penalty",
    "logprobs",
    "top_logprobs",
    "user",
    "seed",
    "parallel_tool_calls",
    "reasoning_effort",
    "service_tier",
)
_COMPLETION_OPTIONAL = (
    "max_tokens",
    "temperature",
    "top_p",
    "n",
    "presence_penalty",
    "frequency_penalty",
    "logprobs",
    "echo",
    "suffix",
    "seed",
    "user",
)


def _struct(value: struct_pb2.Struct) -> Json:
    converted: Json = json_format.MessageToDict(value)
    return converted


def _copy_optional(message: Any, names: tuple[str, ...], out: Json) -> None:
    for name in names:
        if message.HasField(name):
            out[name] = getattr(message, name)


def _part_to_json(part: chat_pb2.ContentPart) -> Json:
    kind = part.WhichOneof("part")
    if kind == "text":
        return {"type": "text", "text": part.text}
    if kind == "image_url":
        image: Json = {"url": part.image_url.url}
        if part.image_url.HasField("detail"):
            image["detail"] = part.image_url.detail
        return {"type": "image_url", "image_url": image}
    if kind == "input_audio":
        audio = {"data": part.input_audio.data, "format": part.input_audio.format}
        return {"type": "input_audio", "input_audio": audio}
    return _struct(part.other)


def _tool_call_to_json(call: chat_pb2.ToolCall) -> Json:
    out: Json = {
        "id": call.id,
        "type": call.type or "function",
        "function": {"name": call.function.name, "arguments": call.function.arguments},
    }
    if call.HasField("index"):
        out["index"] = call.index
    return out


def _message_to_json(message: chat_pb2.ChatMessage) -> Json:
    out: Json = {"role": message.role}
    kind = message.WhichOneof("content")
    if kind == "text":
        out["content"] = message.text
    elif kind == "parts":
        out["content"] = [_part_to_json(part) for part in message.parts.parts]
    for name in ("name", "tool_call_id", "refusal"):
        if message.HasField(name):
            out[name] = getattr(message, name)
    if message.tool_calls:
        out["tool_calls"] = [_tool_call_to_json(call) for call in message.tool_calls]
    return out


def _tool_to_json(tool: chat_pb2.Tool) -> Json:
    function: Json = {"name": tool.function.name}
    if tool.function.HasField("description"):
        function["description"] = tool.function.description
    if tool.function.HasField("parameters"):
        function["parameters"] = _struct(tool.function.parameters)
    if tool.function.HasField("strict"):
        function["strict"] = tool.function.strict
    return {"type": tool.type or "function", "function": function}


def chat_request_to_json(request: chat_pb2.ChatCompletionRequest) -> Json:
    out: Json = _struct(request.extra_body) if request.HasField("extra_body") else {}
    out["model"] = request.model
    out["messages"] = [_message_to_json(message) for message in request.messages]
    _copy_optional(request, _CHAT_OPTIONAL, out)
    if request.stop:
        out["stop"] = list(request.stop)
    if request.logit_bias:
        out["logit_bias"] = dict(request.logit_bias)
    if request.metadata:
        out["metadata"] = dict(request.metadata)
    if request.tools:
        out["tools"] = [_tool_to_json(tool) for tool in request.tools]
    choice = request.tool_choice.WhichOneof("choice")
    if choice == "mode":
        out["tool_choice"] = request.tool_choice.mode
    elif choice == "function_name":
        out["tool_choice"] = {
            "type": "function",
            "function": {"name": request.tool_choice.function_name},
        }
    if request.HasField("response_format"):
        response_format: Json = {"type": request.response_format.type}
        if request.response_format.HasField("json_schema"):
            response_format["json_schema"] = _struct(request.response_format.json_schema)
        out["response_format"] = response_format
    if request.HasField("stream_options"):
        out["stream_options"] = {"include_usage": request.stream_options.include_usage}
    return out


def completion_request_to_json(request: completion_pb2.CompletionRequest) -> Json:
    out: Json = _struct(request.extra_body) if request.HasField("extra_body") else {}
    out["model"] = request.model
    out["prompt"] = request.prompt[0] if len(request.prompt) == 1 else list(request.prompt)
    _copy_optional(request, _COMPLETION_OPTIONAL, out)
    if request.stop:
        out["stop"] = list(request.stop)
    if request.HasField("stream_options"):
        out["stream_options"] = {"include_usage": request.stream_options.include_usage}
    return out


# ---- responses: OpenAI-shaped JSON → typed ----


def _usage_from_json(usage: Json, into: chat_pb2.Usage) -> None:
    into.prompt_tokens = int(usage.get("prompt_tokens") or 0)
    into.completion_tokens = int(usage.get("completion_tokens") or 0)
    into.total_tokens = int(usage.get("total_tokens") or 0)
    prompt_details = usage.get("prompt_tokens_details") or {}
    into.cached_tokens = int(prompt_details.get("cached_tokens") or 0)
    into.cache_creation_tokens = int(prompt_details.get("cache_creation_tokens") or 0)
    completion_details = usage.get("completion_tokens_details") or {}
    into.reasoning_tokens = int(completion_details.get("reasoning_tokens") or 0)


def _message_from_json(data: Json, into: chat_pb2.ChatMessage) -> None:
    if data.get("role"):
        into.role = data["role"]
    content = data.get("content")
    if isinstance(content, str):
        into.text = content
    elif isinstance(content, list):
        for part in content:
            target = into.parts.parts.add()
            if part.get("type") == "text":
                target.text = part.get("text", "")
            else:
                target.other.update(part)
    for name in ("name", "tool_call_id", "refusal"):
        if isinstance(data.get(name), str):
            setattr(into, name, data[name])
    for call in data.get("tool_calls") or ():
        typed = into.tool_calls.add(id=call.get("id") or "", type=call.get("type") or "")
        function = call.get("function") or {}
        typed.function.name = function.get("name") or ""
        typed.function.arguments = function.get("arguments") or ""
        if isinstance(call.get("index"), int):
            typed.index = call["index"]


def _common_from_json(data: Json, into: Any) -> None:
    into.id = data.get("id") or ""
    into.object = data.get("object") or ""
    into.created = int(data.get("created") or 0)
    into.model = data.get("model") or ""
    if isinstance(data.get("system_fingerprint"), str):
        into.system_fingerprint = data["system_fingerprint"]
    if isinstance(data.get("usage"), dict):
        _usage_from_json(data["usage"], into.usage)


def chat_completion_from_json(data: Json) -> chat_pb2.ChatCompletion:
    out = chat_pb2.ChatCompletion()
    _common_from_json(data, out)
    if isinstance(data.get("service_tier"), str):
        out.service_tier = data["service_tier"]
    for choice in data.get("choices") or ():
        typed = out.choices.add(index=int(choice.get("index") or 0))
        typed.finish_reason = choice.get("finish_reason") or ""
        _message_from_json(choice.get("message") or {}, typed.message)
        if isinstance(choice.get("logprobs"), dict):
            typed.logprobs.update(choice["logprobs"])
    return out


def chat_chunk_from_json(data: Json) -> chat_pb2.ChatCompletionChunk:
    out = chat_pb2.ChatCompletionChunk()
    _common_from_json(data, out)
    for choice in data.get("choices") or ():
        typed = out.choices.add(index=int(choice.get("index") or 0))
        if isinstance(choice.get("finish_reason"), str):
            typed.finish_reason = choice["finish_reason"]
        _message_from_json(choice.get("delta") or {}, typed.delta)
        if isinstance(choice.get("logprobs"), dict):
            typed.logprobs.update(choice["logprobs"])
    return out


def completion_from_json(data: Json) -> completion_pb2.Completion:
    out = completion_pb2.Completion()
    _common_from_json(data, out)
    for choice in data.get("choices") or ():
        typed = out.choices.add(index=int(choice.get("index") or 0), text=choice.get("text") or "")
        if isinstance(choice.get("finish_reason"), str):
            typed.finish_reason = choice["finish_reason"]
        if isinstance(choice.get("logprobs"), dict):
            typed.logprobs.update(choice["logprobs"])
    return out


def embedding_request_to_json(request: embedding_pb2.EmbeddingRequest) -> Json:
    """Always `encoding_format: float`: the typed response carries floats."""
    body: Json = {"model": request.model, "encoding_format": "float"}
    kind = request.WhichOneof("input")
    if kind == "texts":
        body["input"] = list(request.texts.texts)
    elif kind == "token_arrays":
        body["input"] = [list(array.tokens) for array in request.token_arrays.arrays]
    _copy_optional(request, ("dimensions", "user"), body)
    return body


def embedding_response_from_json(data: Json) -> embedding_pb2.EmbeddingResponse:
    response = embedding_pb2.EmbeddingResponse(model=str(data.get("model") or ""))
    for item in data.get("data") or ():
        vector = item.get("embedding")
        response.data.append(
            embedding_pb2.Embedding(
                index=int(item.get("index", 0)),
                vector=vector if isinstance(vector, list) else [],
            )
        )
    usage = data.get("usage") or {}
    response.usage.prompt_tokens = int(usage.get("prompt_tokens") or 0)
    response.usage.total_tokens = int(usage.get("total_tokens") or 0)
    return response
