"""Anthropic Messages API wire details for the emulator: request validation the real API
does (returning its error messages), scripted replies, and the response and SSE bodies.

Validation is deliberately as strict as the documented contract (roles alternate,
starting with user; every tool_use answered by a tool_result in the next message;
tool_result blocks first; no unknown fields) so that a translation bug fails a test
instead of passing silently. The real API is sometimes more lenient (it merges
consecutive same-role turns): strictness here only ever rejects what we must not send.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = [
    "ERROR_TYPES",
    "Fault",
    "Json",
    "Reply",
    "count_tokens",
    "error_body",
    "message_body",
    "sse_events",
    "text",
    "thinking",
    "tool_use",
    "validate",
    "validate_count",
]

Json = dict[str, Any]

VERSIONS = ("2023-06-01", "2026-10-21")
SAMPLING = ("temperature", "top_p", "top_k")  # removed in 2026-10-21
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_TOP_LEVEL = frozenset(
    {
        *("model", "messages", "max_tokens", "system", "metadata", "stop_sequences", "stream"),
        *("temperature", "top_p", "top_k", "tools", "tool_choice", "output_config"),
        *("service_tier", "thinking", "cache_control"),
    }
)
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
_MEDIA_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
_NON_EMPTY = (
    "all messages must have non-empty content except for the optional final assistant message"
)


def text(value: str) -> Json:
    return {"type": "text", "text": value}


def tool_use(id_: str, name: str, input_: Json) -> Json:
    return {"type": "tool_use", "id": id_, "name": name, "input": input_}


def thinking(value: str, signature: str) -> Json:
    return {"type": "thinking", "thinking": value, "signature": signature}


def count_tokens(body: Json) -> int:
    """The emulator's deterministic count: one token per 4 characters of the
    request's messages, system and tools (the real API's tokenizer is private)."""
    counted = {key: body.get(key) for key in ("system", "messages", "tools")}
    return max(1, len(orjson.dumps(counted)) // 4)


@dataclass
class Reply:
    """A scripted successful answer; the stream is derived from the same content."""

    content: list[Json] = field(default_factory=lambda: [text("Hello from the emulator.")])
    stop_reason: str = "end_turn"
    stop_sequence: str | None = None
    input_tokens: int = 12
    output_tokens: int = 6
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    model: str | None = None  # default: the model requested
    text_chunk: int = 4  # characters per text_delta
    json_chunk: int = 5  # characters per input_json_delta
    delta_usage: Json | None = None  # message_delta usage (default: output_tokens only)
    extra_events: list[tuple[str, Json]] = field(default_factory=list)  # sent after message_start
    # behaviour
    delay_s: float = 0.0
    hold: bool = False  # wait for emulator.release() before the first byte
    hang: bool = False  # never answer (until the client goes away or the emulator closes)
    error_after: int | None = None  # stream: send `event: error` after this many events
    stream_error: Json | None = None  # its body (default: overloaded_error)
    disconnect_after: int | None = None  # stream: drop the connection after this many events
    stall_after: int | None = None  # stream: go silent after this many events (until closed)


@dataclass
class Fault:
    """A scripted error response with Anthropic's error body."""

    status: int = 500
    type: str = ""  # default by status
    message: str = "Internal server error"
    retry_after: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    raw_body: bytes | None = None  # instead of the JSON error body
    delay_s: float = 0.0
    hold: bool = False
    hang: bool = False


def error_body(status: int, message: str, type_: str = "", request_id: str = "") -> Json:
    kind = type_ or ERROR_TYPES.get(
        status, "api_error" if status >= 500 else "invalid_request_error"
    )
    body: Json = {"type": "error", "error": {"type": kind, "message": message}}
    if request_id:
        body["request_id"] = request_id
    return body


# ---- responses ----


def _usage(reply: Reply, output_tokens: int) -> Json:
    return {
        "input_tokens": reply.input_tokens,
        "cache_creation_input_tokens": reply.cache_creation_input_tokens,
        "cache_read_input_tokens": reply.cache_read_input_tokens,
        "output_tokens": output_tokens,
    }


def message_body(reply: Reply, request: Json, message_id: str) -> Json:
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": reply.model or request.get("model"),
        "content": reply.content,
        "stop_reason": reply.stop_reason,
        "stop_sequence": reply.stop_sequence,
        "usage": _usage(reply, reply.output_tokens),
    }


def _pieces(value: str, size: int) -> list[str]:
    return [value[i : i + size] for i in range(0, len(value), max(1, size))] or [""]


def _block_events(index: int, block: Json, reply: Reply) -> list[tuple[str, Json]]:
    if block["type"] == "tool_use":
        start = {**block, "input": {}}
        fragments = ["", *_pieces(orjson.dumps(block["input"]).decode(), reply.json_chunk)]
        deltas = [{"type": "input_json_delta", "partial_json": f} for f in fragments]
    elif block["type"] == "thinking":  # thinking deltas, then the signature in one delta
        start = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [
            *({"type": "thinking_delta", "thinking": t} for t in _pieces(block["thinking"], 8)),
            {"type": "signature_delta", "signature": block["signature"]},
        ]
    elif block["type"] == "redacted_thinking":  # whole in its start, no deltas
        start, deltas = block, []
    else:
        start = {"type": "text", "text": ""}
        deltas = [
            {"type": "text_delta", "text": t} for t in _pieces(block["text"], reply.text_chunk)
        ]
    head = {"index": index}
    return [
        ("content_block_start", {"type": "content_block_start", **head, "content_block": start}),
        *[
            ("content_block_delta", {"type": "content_block_delta", **head, "delta": d})
            for d in deltas
        ],
        ("content_block_stop", {"type": "content_block_stop", **head}),
    ]


def sse_events(reply: Reply, request: Json, message_id: str) -> list[tuple[str, Json]]:
    """The full event sequence of a streamed reply, as the real API orders it."""
    start = {**message_body(reply, request, message_id), "content": [], "stop_reason": None}
    start["stop_sequence"] = None
    start["usage"] = _usage(reply, 1)
    events: list[tuple[str, Json]] = [
        ("message_start", {"type": "message_start", "message": start})
    ]
    events.extend(reply.extra_events)
    for index, block in enumerate(reply.content):
        block_events = _block_events(index, block, reply)
        if index == 0:  # the real API pings right after the first content_block_start
            block_events.insert(1, ("ping", {"type": "ping"}))
        events.extend(block_events)
    delta = {"stop_reason": reply.stop_reason, "stop_sequence": reply.stop_sequence}
    usage = reply.delta_usage or {"output_tokens": reply.output_tokens}
    events.append(("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


# ---- validation: the real API's rules and messages ----


class Invalid(Exception):
    """A 400 invalid_request_error with the given message."""


def validate(body: Any, version: str) -> None:
    """Raise `Invalid` with the API's message when the request breaks its contract."""
    if not isinstance(body, dict):
        raise Invalid("There was an error parsing the body")
    for key in body:
        if key not in _TOP_LEVEL:
            raise Invalid(f"{key}: Extra inputs are not permitted")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise Invalid("model: Field required")
    max_tokens = body.get("max_tokens")
    if "max_tokens" not in body:
        raise Invalid("max_tokens: Field required")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 0:
        raise Invalid("max_tokens: Input should be a valid integer greater than or equal to 0")
    _sampling(body, version)
    _system(body.get("system"))
    names = _tools(body.get("tools"), body.get("tool_choice"))
    _messages(body.get("messages"), names)
    _options(body)


_COUNT_FIELDS = frozenset(
    {"model", "messages", "system", "tools", "tool_choice", "thinking", "output_config"}
)


def validate_count(body: Any) -> None:
    """POST /v1/messages/count_tokens: the messages rules, no generation settings."""
    if not isinstance(body, dict):
        raise Invalid("There was an error parsing the body")
    for key in body:
        if key not in _COUNT_FIELDS:
            raise Invalid(f"{key}: Extra inputs are not permitted")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise Invalid("model: Field required")
    _system(body.get("system"))
    _messages(body.get("messages"), _tools(body.get("tools"), body.get("tool_choice")))


def _sampling(body: Json, version: str) -> None:
    for name in SAMPLING:
        if name not in body:
            continue
        if version != VERSIONS[0]:
            raise Invalid(f"{name}: Extra inputs are not permitted in API version {version}")
        value = body[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Invalid(f"{name}: Input should be a valid number")
        if name != "top_k" and not 0 <= value <= 1:
            raise Invalid(f"{name}: Input should be less than or equal to 1")
    stops = body.get("stop_sequences", [])
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise Invalid("stop_sequences: Input should be a valid list of strings")


def _system(system: Any) -> None:
    if system is None or isinstance(system, str):
        return
    if not isinstance(system, list) or not all(_is_text(b) for b in system):
        raise Invalid("system: Input should be a valid string or a list of text blocks")


def _is_text(block: Any) -> bool:
    return (
        isinstance(block, dict)
        and block.get("type") == "text"
        and isinstance(block.get("text"), str)
    )


def _tools(tools: Any, choice: Any) -> set[str]:
    names: set[str] = set()
    for k, tool in enumerate(tools or []):
        if not isinstance(tool, dict) or not isinstance(tool.get("input_schema"), dict):
            raise Invalid(f"tools.{k}.input_schema: Field required")
        if tool["input_schema"].get("type") != "object":
            raise Invalid(f"tools.{k}.input_schema.type: Input should be 'object'")
        extra = set(tool) - {
            "name",
            "description",
            "input_schema",
            "strict",
            "cache_control",
            "type",
        }
        if extra:
            raise Invalid(f"tools.{k}.{sorted(extra)[0]}: Extra inputs are not permitted")
        if not isinstance(tool.get("name"), str) or not _TOOL_NAME.match(tool["name"]):
            raise Invalid(f"tools.{k}.name: String should match pattern '{_TOOL_NAME.pattern}'")
        if tool["name"] in names:
            raise Invalid("tools: Tool names must be unique.")
        names.add(tool["name"])
    if choice is None:
        return names
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind not in ("auto", "any", "tool", "none"):
        raise Invalid("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
    if kind != "none" and not names:
        raise Invalid("tool_choice: tool_choice may only be specified while providing tools.")
    if kind == "tool" and choice.get("name") not in names:
        raise Invalid(f"tool_choice.name: Tool '{choice.get('name')}' not found in tools")
    if kind == "none" and "disable_parallel_tool_use" in choice:
        raise Invalid("tool_choice.none.disable_parallel_tool_use: Extra inputs are not permitted")
    return names


def _options(body: Json) -> None:
    metadata = body.get("metadata")
    if metadata is not None and (not isinstance(metadata, dict) or set(metadata) - {"user_id"}):
        raise Invalid("metadata: only 'user_id' is permitted")
    config = body.get("output_config")
    if config is None:
        return
    fmt = config.get("format") if isinstance(config, dict) else None
    if (
        not isinstance(fmt, dict)
        or fmt.get("type") != "json_schema"
        or not isinstance(fmt.get("schema"), dict)
    ):
        raise Invalid("output_config.format: Input should be a json_schema format with a schema")


def _messages(messages: Any, tool_names: set[str]) -> None:
    if not isinstance(messages, list):
        raise Invalid("messages: Field required")
    if not messages:
        raise Invalid("messages: at least one message is required")
    previous_uses: list[str] = []
    for i, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ("user", "assistant"):
            raise Invalid(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        if i == 0 and role != "user":
            raise Invalid('messages: first message must use the "user" role')
        if i and messages[i - 1].get("role") == role:
            raise Invalid(
                f'messages: roles must alternate between "user" and "assistant", '
                f'but found multiple "{role}" roles in a row'
            )
        blocks = _blocks(
            message.get("content"), i, final=i == len(messages) - 1 and role == "assistant"
        )
        answered = _check_blocks(blocks, i, role, previous_uses)
        missing = [u for u in previous_uses if u not in answered]
        if missing:
            raise Invalid(
                f"messages.{i - 1}: `tool_use` ids were found without `tool_result` blocks "
                f"immediately after: {', '.join(missing)}. Each `tool_use` block must have a "
                "corresponding `tool_result` block in the next message."
            )
        previous_uses = [b["id"] for b in blocks if b["type"] == "tool_use"]
        for name in (b["name"] for b in blocks if b["type"] == "tool_use"):
            if name not in tool_names:
                raise Invalid(f"messages.{i}: tool_use names a tool that is not in tools: {name}")


def _check_blocks(blocks: list[Json], i: int, role: str, previous_uses: list[str]) -> list[str]:
    """Check each block; return the tool_use ids this message answers."""
    for j, block in enumerate(blocks):
        _block(block, f"messages.{i}.content.{j}", role)
        if block["type"] != "tool_result":
            continue
        if block["tool_use_id"] not in previous_uses:
            raise Invalid(
                f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` "
                f"blocks: {block['tool_use_id']}. Each `tool_result` block must have a "
                "corresponding `tool_use` block in the previous message."
            )
        if j and blocks[j - 1]["type"] != "tool_result":
            raise Invalid(
                f"messages.{i}.content.{j}: tool_result blocks must come first in a message"
            )
    return [b["tool_use_id"] for b in blocks if b["type"] == "tool_result"]


def _blocks(content: Any, i: int, *, final: bool) -> list[Json]:
    if isinstance(content, str):
        if not content and not final:
            raise Invalid(f"messages.{i}: {_NON_EMPTY}")
        return [text(content)] if content else []
    if not isinstance(content, list) or not all(
        isinstance(b, dict) and "type" in b for b in content
    ):
        raise Invalid(f"messages.{i}.content: Input should be a valid list of content blocks")
    if not content and not final:
        raise Invalid(f"messages.{i}: {_NON_EMPTY}")
    return content


def _block(block: Json, where: str, role: str) -> None:
    kind = block["type"]
    if kind == "text":
        if not isinstance(block.get("text"), str) or not block["text"]:
            raise Invalid(f"{where}.text: text content blocks must be non-empty")
    elif kind == "image" and role == "user":
        _image(block.get("source"), where)
    elif kind == "tool_use" and role == "assistant":
        if not isinstance(block.get("id"), str) or not isinstance(block.get("name"), str):
            raise Invalid(f"{where}: tool_use blocks need an id and a name")
        if not isinstance(block.get("input"), dict):
            raise Invalid(f"{where}.input: Input should be a valid dictionary")
    elif kind == "tool_result" and role == "user":
        if not isinstance(block.get("tool_use_id"), str):
            raise Invalid(f"{where}.tool_use_id: Field required")
        content = block.get("content", "")
        if not isinstance(content, str) and not (
            isinstance(content, list) and all(_is_text(b) or _is_image(b) for b in content)
        ):
            raise Invalid(
                f"{where}.content: Input should be a valid string or list of text or image blocks"
            )
    else:
        _other_block(block, where, role)


def _other_block(block: Json, where: str, role: str) -> None:
    """Thinking (with its signature), redacted thinking, documents."""
    kind = block["type"]
    if kind == "thinking" and role == "assistant":
        if not isinstance(block.get("thinking"), str) or not block.get("signature"):
            raise Invalid(f"{where}.signature: Field required")
    elif kind == "redacted_thinking" and role == "assistant":
        if not isinstance(block.get("data"), str):
            raise Invalid(f"{where}.data: Field required")
    elif kind == "document" and role == "user":
        source = block.get("source")
        if not isinstance(source, dict) or source.get("type") not in ("base64", "text", "url"):
            raise Invalid(f"{where}.source.type: Input should be 'base64', 'text' or 'url'")
    else:
        raise Invalid(f"{where}.type: '{kind}' blocks are not permitted in {role} messages")


def _is_image(block: Any) -> bool:
    return isinstance(block, dict) and block.get("type") == "image"


def _image(source: Any, where: str) -> None:
    kind = source.get("type") if isinstance(source, dict) else None
    if kind == "url":
        if not isinstance(source.get("url"), str) or not source["url"].startswith(
            ("http://", "https://")
        ):
            raise Invalid(f"{where}.source.url: Input should be a valid URL")
        return
    if kind != "base64":
        raise Invalid(f"{where}.source.type: Input should be 'base64', 'url' or 'file'")
    if source.get("media_type") not in _MEDIA_TYPES:
        raise Invalid(
            f"{where}.source.media_type: Input should be {', '.join(map(repr, _MEDIA_TYPES))}"
        )
    try:
        base64.b64decode(source.get("data", ""), validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise Invalid(f"{where}.source.data: The image data is not valid base64") from None
