"""Response bodies and stream chunks of the OpenAI-compatible emulator.

Deterministic: ids count requests, `created` is fixed, text streams word by word,
tool-call arguments in `fragment_chars` pieces, n > 1 choices interleave by index.
"""

from __future__ import annotations

import json
from itertools import zip_longest
from typing import Any

from tests.emulators._openai_compat_wire import (
    CREATED,
    FINGERPRINT,
    Flavor,
    Json,
    Reply,
    ToolCall,
    arg_fragments,
    chat_deltas,
    chat_logprobs,
    estimate_prompt_tokens,
    fragments,
    legacy_logprobs,
    usage_body,
)

__all__ = ["chat_body", "chat_chunks", "legacy_body", "legacy_chunks", "sample", "scenario_reply"]


def _texts(reply: Reply, n: int) -> list[str | None]:
    texts: list[str | None] = list(reply.texts) or [reply.text]
    return [texts[i] if i < len(texts) else texts[-1] for i in range(n)]


def _call_ids(reply: Reply, number: int) -> list[str]:
    return [c.id or f"call_emu{number}_{k}" for k, c in enumerate(reply.tool_calls)]


def _counts(reply: Reply, body: Json, texts: list[str | None]) -> tuple[int, int]:
    prompt = (
        reply.prompt_tokens if reply.prompt_tokens is not None else estimate_prompt_tokens(body)
    )
    if reply.completion_tokens is not None:
        return prompt, reply.completion_tokens
    pieces = sum(len(fragments(t)) for t in texts if t)
    args = sum(len(arg_fragments(c.arguments, reply.fragment_chars)) for c in reply.tool_calls)
    return prompt, pieces + args * len(texts) + reply.reasoning_tokens


def _finish(reply: Reply) -> str:
    return reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")


def _envelope(flavor: Flavor, obj: str, body: Json, reply: Reply, number: int) -> Json:
    prefix = "cmpl" if obj.startswith("text_completion") else "chatcmpl"
    out: Json = {
        "id": f"{prefix}-emu{number:06d}",
        "object": obj,
        "created": CREATED + number,
        "model": reply.model or body["model"],
    }
    if obj != "text_completion":
        out["service_tier"] = "on_demand" if flavor == "groq" else "default"
    out["system_fingerprint"] = FINGERPRINT
    return out


def _top(body: Json, key: str) -> int:
    value = body.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def chat_body(flavor: Flavor, body: Json, reply: Reply, number: int) -> Json:
    n = _top(body, "n") or 1
    texts = _texts(reply, n)
    ids = _call_ids(reply, number)
    choices = []
    for i, text in enumerate(texts):
        message: Json = {"role": "assistant", "content": text}
        if flavor == "openai":
            message |= {"refusal": None, "annotations": []}
        if reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": ids[k],
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for k, c in enumerate(reply.tool_calls)
            ]
        logprobs = None
        if body.get("logprobs") and text:
            logprobs = chat_logprobs(fragments(text), _top(body, "top_logprobs"))
        choices.append(
            {"index": i, "message": message, "logprobs": logprobs, "finish_reason": _finish(reply)}
        )
    out = _envelope(flavor, "chat.completion", body, reply, number)
    out["choices"] = choices
    out["usage"] = usage_body(flavor, reply, *_counts(reply, body, texts), legacy=False)
    if flavor == "groq":
        out["x_groq"] = {"id": f"req_01emu{number:020d}"}
    return out


def legacy_body(flavor: Flavor, body: Json, reply: Reply, number: int) -> Json:
    n = _top(body, "n") or 1
    texts = _texts(reply, n)
    top = _top(body, "logprobs")
    out = _envelope(flavor, "text_completion", body, reply, number)
    out["choices"] = [
        {
            "text": text or "",
            "index": i,
            "logprobs": legacy_logprobs(fragments(text or ""), top)
            if "logprobs" in body and body["logprobs"] is not None
            else None,
            "finish_reason": reply.finish_reason or "stop",
        }
        for i, text in enumerate(texts)
    ]
    out["usage"] = usage_body(flavor, reply, *_counts(reply, body, texts), legacy=True)
    return out


def _wants_usage(body: Json) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and bool(options.get("include_usage"))


def chat_chunks(flavor: Flavor, body: Json, reply: Reply, number: int) -> list[Json]:
    n = _top(body, "n") or 1
    texts = _texts(reply, n)
    ids = _call_ids(reply, number)
    wants_usage = _wants_usage(body)
    base = _envelope(flavor, "chat.completion.chunk", body, reply, number)

    def chunk(choices: list[Json]) -> Json:
        out = base | {"choices": choices}
        if wants_usage and flavor == "openai":
            out["usage"] = None
        return out

    per_choice = [list(chat_deltas(flavor, reply, text, ids)) for text in texts]
    chunks = []
    for row in zip_longest(*per_choice):
        for i, delta in enumerate(row):
            if delta is None:
                continue
            logprobs = None
            if body.get("logprobs") and delta.get("content"):
                logprobs = chat_logprobs([delta["content"]], _top(body, "top_logprobs"))
            chunks.append(
                chunk([{"index": i, "delta": delta, "logprobs": logprobs, "finish_reason": None}])
            )
    for i in range(n):
        chunks.append(
            chunk([{"index": i, "delta": {}, "logprobs": None, "finish_reason": _finish(reply)}])
        )
    usage = usage_body(flavor, reply, *_counts(reply, body, texts), legacy=False)
    request_id = f"req_01emu{number:020d}"
    if flavor == "groq":
        chunks[0]["x_groq"] = {"id": request_id}
        chunks[-1]["x_groq"] = {"id": request_id, "usage": usage}
    if wants_usage:
        chunks.append(base | {"choices": [], "usage": usage})
    return chunks


def legacy_chunks(flavor: Flavor, body: Json, reply: Reply, number: int) -> list[Json]:
    n = _top(body, "n") or 1
    texts = _texts(reply, n)
    wants_usage = _wants_usage(body)
    base = _envelope(flavor, "text_completion", body, reply, number)
    with_logprobs = "logprobs" in body and body["logprobs"] is not None
    chunks = []
    for row in zip_longest(*[fragments(t or "") for t in texts]):
        for i, piece in enumerate(row):
            if piece is not None:
                logprobs = (
                    legacy_logprobs([piece], _top(body, "logprobs")) if with_logprobs else None
                )
                chunks.append(
                    base
                    | {
                        "choices": [
                            {"text": piece, "index": i, "logprobs": logprobs, "finish_reason": None}
                        ]
                    }
                )
    for i in range(n):
        chunks.append(
            base
            | {
                "choices": [
                    {
                        "text": "",
                        "index": i,
                        "logprobs": None,
                        "finish_reason": reply.finish_reason or "stop",
                    }
                ]
            }
        )
    if wants_usage:
        usage = usage_body(flavor, reply, *_counts(reply, body, texts), legacy=True)
        chunks.append(base | {"choices": [], "usage": usage})
    return chunks


# ---- the default answer ------------------------------------------------------------------


def scenario_reply(body: Json) -> Reply:
    """What a model would answer, decided by the request and nothing else (so the same
    request gets the same answer, streamed or not): forced tool calls when
    `tool_choice` is "required" or names a function (unless the last message is a
    tool result), JSON matching `response_format`, else a greeting."""
    messages = body.get("messages")
    last = messages[-1] if isinstance(messages, list) and messages else None
    after_tool = isinstance(last, dict) and last.get("role") == "tool"
    calls = () if after_tool else _forced_tool_calls(body)
    if calls:
        return Reply(text=None, tool_calls=calls)
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_object":
        return Reply(text='{"greeting": "Hello!"}')
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        spec = fmt.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        return Reply(text=json.dumps(sample(schema if isinstance(schema, dict) else {})))
    return Reply()


def _forced_tool_calls(body: Json) -> tuple[ToolCall, ...]:
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict) and "function" in t]
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        tools = [t for t in tools if t["function"].get("name") == name]
    elif choice != "required":
        return ()
    if body.get("parallel_tool_calls") is False:
        tools = tools[:1]
    return tuple(
        ToolCall(
            name=t["function"]["name"],
            arguments=json.dumps(sample(t["function"].get("parameters") or {})),
        )
        for t in tools
    )


def sample(schema: Json) -> Any:
    """A deterministic value that satisfies a simple JSON schema."""
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if kind == "object":
        props = schema.get("properties") or {}
        return {name: sample(sub if isinstance(sub, dict) else {}) for name, sub in props.items()}
    if kind == "array":
        items = schema.get("items")
        return [sample(items if isinstance(items, dict) else {})]
    return {"integer": 1, "number": 1.5, "boolean": True, "null": None}.get(kind, "Paris")
