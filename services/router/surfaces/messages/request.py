"""A Messages API request → the unified (OpenAI-shaped chat) request (pure).

What maps: `system` (string or text blocks) → one system message; user and
assistant turns with text, images (base64 → data URL with its media type, url →
URL), `tool_use` (input object → arguments JSON string) and `tool_result` blocks
(→ `tool` messages, placed before the rest of their user turn); `max_tokens`,
`stop_sequences` → `stop`, `temperature`, `top_p`, `metadata.user_id` → `user`,
`tools` → functions, `tool_choice` (auto/any/tool/none, `disable_parallel_tool_use`
→ `parallel_tool_calls: false`), `output_config.format` (JSON schema) →
`response_format`, `stream` (with usage requested, for accounting).

What is dropped, by design and documented (docs/surfaces.md): `cache_control`
breakpoints (unified backends cache prompts on their own; there is nothing to
send), and thinking / redacted-thinking blocks of earlier assistant turns (their
signatures are valid only for the model that wrote them).

Unknown top-level fields pass through, as on the chat surface (the backend judges
them). What cannot be carried is listed in `untranslatable` — enabled `thinking`,
`top_k`, documents, images inside tool results, server tools, `container`,
`context_management`, `mcp_servers` —
and refused with a 400 naming it by any backend that does not take the Messages
format as is; a native backend gets the client's body untouched instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from services.router.errors import bad_request

__all__ = ["Translation", "count_request", "safe_tool_id", "to_unified", "validate_request"]

Json = dict[str, Any]

# The routing requirements' key (services/router/routing/requirements.py), kept as is.
_GATEWAY_KEY = "agentopia"
_MAPPED = frozenset(
    {
        *("model", "messages", "max_tokens", "system", "metadata", "stop_sequences"),
        *("stream", "temperature", "top_p", "tools", "tool_choice", "output_config"),
        *("cache_control", "thinking", "service_tier", "top_k", _GATEWAY_KEY),
    }
)
# Messages API features with no unified counterpart: never sent anywhere but natively.
_MESSAGES_ONLY = frozenset({"container", "context_management", "mcp_servers"})
_TOOL_ID = re.compile(r"[^a-zA-Z0-9_-]")


@dataclass(frozen=True, slots=True)
class Translation:
    unified: Json
    untranslatable: tuple[str, ...]


def safe_tool_id(value: Any) -> str:
    """A tool id in the `^[a-zA-Z0-9_-]+$` form the Messages API requires, derived
    deterministically (the same id always maps to the same one, in both directions
    of a tool loop)."""
    text = value if isinstance(value, str) else ""
    return _TOOL_ID.sub("_", text) or "toolu_unnamed"


def validate_request(body: Json, *, counting: bool = False) -> str:
    """The model; a 400 for what the router itself needs (model, messages, max_tokens)."""
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise bad_request("invalid_model", "model: Field required (a non-empty string).", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request(
            "invalid_messages", "messages: Field required (a non-empty array).", "messages"
        )
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping) or message.get("role") not in ("user", "assistant"):
            raise bad_request(
                "invalid_messages",
                f"messages.{i}.role: Input should be 'user' or 'assistant'.",
                f"messages.{i}.role",
            )
    if counting:
        return model
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise bad_request(
            "invalid_max_tokens",
            "max_tokens: Field required (a positive integer).",
            "max_tokens",
        )
    if not isinstance(body.get("stream", False), bool):
        raise bad_request("invalid_stream", "stream: Input should be a valid boolean.", "stream")
    return model


def to_unified(body: Json) -> Translation:
    lost: list[str] = [key for key in body if key in _MESSAGES_ONLY]
    # Anything else unknown passes through, as on the chat surface: the backend judges
    # it (a provider's own request key, a field newer than this gateway).
    out: Json = {
        key: value for key, value in body.items() if key not in _MAPPED and key not in lost
    }
    out["model"] = body["model"]
    system = _system_text(body.get("system"), lost)
    messages: list[Json] = [{"role": "system", "content": system}] if system else []
    for i, message in enumerate(body["messages"]):
        messages.extend(_turn(message, i, lost))
    out["messages"] = messages
    if "max_tokens" in body:
        out["max_tokens"] = body["max_tokens"]
    _sampling(body, out, lost)
    _tools(body, out, lost)
    _output(body, out)
    if body.get("stream") is True:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}  # usage for message_delta and billing
    if _GATEWAY_KEY in body:
        out[_GATEWAY_KEY] = body[_GATEWAY_KEY]
    return Translation(unified=out, untranslatable=tuple(dict.fromkeys(lost)))


def count_request(body: Json) -> Json:
    """A count_tokens body as a unified request, for the gateway's estimator."""
    return to_unified({**body, "max_tokens": 1}).unified


def _texts(blocks: Any, where: str, lost: list[str]) -> str:
    """Text of a string or a list of text blocks; other blocks are lost."""
    if isinstance(blocks, str):
        return blocks
    parts: list[str] = []
    for j, block in enumerate(blocks if isinstance(blocks, list) else []):
        if isinstance(block, Mapping) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
        else:
            lost.append(f"{where}.{j}.{_kind(block)}")
    return "\n\n".join(parts)


def _kind(block: Any) -> str:
    kind = block.get("type") if isinstance(block, Mapping) else None
    return kind if isinstance(kind, str) else "unknown"


def _system_text(system: Any, lost: list[str]) -> str:
    if system is None:
        return ""
    return _texts(system, "system", lost)


def _turn(message: Mapping[str, Any], i: int, lost: list[str]) -> list[Json]:
    content = message.get("content")
    if message.get("role") == "assistant":
        return [_assistant(content, i, lost)]
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    results: list[Json] = []
    parts: list[Json] = []
    for j, block in enumerate(content if isinstance(content, list) else []):
        where = f"messages.{i}.content.{j}"
        kind = _kind(block)
        if kind == "text":
            parts.append({"type": "text", "text": block.get("text", "")})
        elif kind == "image":
            parts.append(_image(block.get("source"), where, lost))
        elif kind == "tool_result":
            results.append(_tool_result(block, where, lost))
        else:
            lost.append(f"{where}.{kind}")
    turns = results
    if parts:
        turns.append({"role": "user", "content": parts})
    return turns


def _image(source: Any, where: str, lost: list[str]) -> Json:
    source = source if isinstance(source, Mapping) else {}
    if source.get("type") == "url":
        url = str(source.get("url", ""))
    elif source.get("type") == "base64":
        url = f"data:{source.get('media_type', '')};base64,{source.get('data', '')}"
    else:
        lost.append(f"{where}.image.source.{source.get('type')}")
        url = ""
    return {"type": "image_url", "image_url": {"url": url}}


def _tool_result(block: Mapping[str, Any], where: str, lost: list[str]) -> Json:
    # Tool messages carry text only: an image in a result cannot reach the backend.
    text = _texts(block.get("content", ""), f"{where}.tool_result.content", lost)
    if block.get("is_error") is True:
        text = f"Error: {text}" if text else "Error"
    return {"role": "tool", "tool_call_id": safe_tool_id(block.get("tool_use_id")), "content": text}


def _assistant(content: Any, i: int, lost: list[str]) -> Json:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    texts: list[str] = []
    calls: list[Json] = []
    for j, block in enumerate(content if isinstance(content, list) else []):
        kind = _kind(block)
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "tool_use":
            calls.append(
                {
                    "id": safe_tool_id(block.get("id")),
                    "type": "function",
                    "function": {
                        "name": block.get("name"),
                        "arguments": orjson.dumps(block.get("input") or {}).decode(),
                    },
                }
            )
        elif kind not in ("thinking", "redacted_thinking"):  # signed for another model
            lost.append(f"messages.{i}.content.{j}.{kind}")
    turn: Json = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        turn["tool_calls"] = calls
    return turn


def _sampling(body: Json, out: Json, lost: list[str]) -> None:
    for name in ("temperature", "top_p"):
        if name in body:
            out[name] = body[name]
    stops = body.get("stop_sequences")
    if stops:
        out["stop"] = stops
    metadata = body.get("metadata")
    if isinstance(metadata, Mapping) and isinstance(metadata.get("user_id"), str):
        out["user"] = metadata["user_id"]
    thinking = body.get("thinking")
    if isinstance(thinking, Mapping) and thinking.get("type") not in (None, "disabled"):
        lost.append("thinking")
    if body.get("top_k") is not None:
        lost.append("top_k")
    if body.get("service_tier") not in (None, "auto"):
        lost.append("service_tier")


def _tools(body: Json, out: Json, lost: list[str]) -> None:
    tools = body.get("tools")
    if isinstance(tools, list) and tools:
        functions = []
        for k, tool in enumerate(tools):
            kind = tool.get("type") if isinstance(tool, Mapping) else None
            if not isinstance(tool, Mapping) or kind not in (None, "custom"):
                lost.append(f"tools.{k}.{kind or 'unknown'}")  # a server tool
                continue
            function: Json = {"name": tool.get("name"), "parameters": tool.get("input_schema")}
            if isinstance(tool.get("description"), str):
                function["description"] = tool["description"]
            functions.append({"type": "function", "function": function})
        if functions:
            out["tools"] = functions
    choice = body.get("tool_choice")
    if not isinstance(choice, Mapping):
        return
    kind = choice.get("type")
    if kind == "any":
        out["tool_choice"] = "required"
    elif kind == "tool":
        out["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
    elif kind in ("auto", "none"):
        out["tool_choice"] = kind
    if choice.get("disable_parallel_tool_use") is True and "tools" in out:
        out["parallel_tool_calls"] = False


def _output(body: Json, out: Json) -> None:
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, Mapping) else None
    if isinstance(fmt, Mapping) and fmt.get("type") == "json_schema":
        out["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": fmt.get("schema"), "strict": True},
        }
