"""What the mock answers (pure): the same request always gives the same plan.

A chat reply quotes the last user message (or the tool result it follows);
JSON modes answer with a JSON object; `max_tokens` cuts the reply (finish
`length`); `stop` sequences end it early; tools are called per tools.py.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from services.provider.adapters.base import Usage
from services.provider.adapters.mock.tokens import count_messages, count_text
from services.provider.adapters.mock.tools import (
    PlannedCall,
    ToolChoiceError,
    example_value,
    plan_tool_calls,
)

__all__ = ["Plan", "PlannedChoice", "RequestError", "plan_chat", "plan_completion", "split_words"]

_QUOTE_CHARS = 160
_MAX_CHOICES = 128


class RequestError(ValueError):
    """The request is invalid, as the real API would say with a 400."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True, slots=True)
class PlannedChoice:
    index: int
    content: str | None
    tool_calls: tuple[PlannedCall, ...] = ()
    finish_reason: str = "stop"


@dataclass(frozen=True, slots=True)
class Plan:
    id: str
    choices: tuple[PlannedChoice, ...]
    usage: Usage


def split_words(text: str, words_per_piece: int = 1) -> list[str]:
    """`text` in pieces of N words, each with its following whitespace ("".join is exact)."""
    pieces: list[str] = []
    current = ""
    words = 0
    for index, char in enumerate(text):
        current += char
        ends_word = not char.isspace() and (index + 1 == len(text) or text[index + 1].isspace())
        if ends_word:
            words += 1
        next_starts_word = index + 1 < len(text) and not text[index + 1].isspace()
        if words >= words_per_piece and (next_starts_word or index + 1 == len(text)):
            pieces.append(current)
            current, words = "", 0
    if current:
        pieces.append(current)
    return pieces


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(p.get("text", ""))
            for p in content
            if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _QUOTE_CHARS else text[: _QUOTE_CHARS - 1] + "…"


def _images(messages: list[Any]) -> int:
    count = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            count += sum(1 for p in content if isinstance(p, dict) and p.get("type") == "image_url")
    return count


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return _text_of(message.get("content"))
    return ""


def _reply_text(messages: list[Any]) -> str:
    last = messages[-1]
    if last.get("role") == "tool":
        return f'The tool returned: "{_quote(_text_of(last.get("content")))}".'
    text = f'You said: "{_quote(_last_user_text(messages))}".'
    images = _images(messages)
    if images:
        text += f" I see {images} image{'s' if images > 1 else ''}."
    if any(m.get("role") in ("system", "developer") for m in messages):
        text += " (Following the system prompt.)"
    return text + " This is a deterministic reply from the mock provider."


def _json_reply(body: dict[str, Any], text: str) -> str | None:
    response_format = body.get("response_format")
    if not isinstance(response_format, dict):
        return None
    kind = response_format.get("type")
    if kind == "json_object":
        return orjson.dumps({"reply": text}).decode()
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        value = example_value(schema if isinstance(schema, dict) else {"type": "object"}, "reply")
        return orjson.dumps(value).decode()
    return None


def _limit(body: dict[str, Any]) -> int | None:
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise RequestError(f"'{key}' must be a positive integer", key)
            return value
    return None


def _finish(text: str, body: dict[str, Any]) -> tuple[str, str]:
    """Apply stop sequences, then the token limit."""
    stop = body.get("stop")
    for sequence in [stop] if isinstance(stop, str) else stop or ():
        if isinstance(sequence, str) and sequence and sequence in text:
            text = text[: text.index(sequence)]
    limit = _limit(body)
    if limit is None or count_text(text) <= limit:
        return text, "stop"
    pieces = split_words(text)
    while pieces and count_text("".join(pieces)) > limit:
        pieces.pop()
    return "".join(pieces), "length"


def _count_choices(body: dict[str, Any]) -> int:
    n = body.get("n", 1)
    if n is None:
        return 1
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= _MAX_CHOICES:
        raise RequestError(f"'n' must be an integer between 1 and {_MAX_CHOICES}", "n")
    return n


def _response_id(prefix: str, salt: str) -> str:
    return prefix + hashlib.sha256(salt.encode()).hexdigest()[:24]


def _validate_messages(body: dict[str, Any]) -> list[Any]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError("'messages' must be a non-empty array", "messages")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise RequestError(f"messages[{index}] must be an object with a 'role'", "messages")
    return messages


def _usage(prompt: int, choices: list[PlannedChoice]) -> Usage:
    completion = 0
    for choice in choices:
        completion += count_text(choice.content or "")
        completion += sum(count_text(c.name) + count_text(c.arguments) for c in choice.tool_calls)
    return Usage(prompt_tokens=prompt, completion_tokens=completion)


def plan_chat(body: dict[str, Any], *, reply: str, salt: str) -> Plan:
    """The complete answer to a chat request; raises RequestError like a 400."""
    messages = _validate_messages(body)
    count = _count_choices(body)
    try:
        calls = tuple(plan_tool_calls(body, _last_user_text(messages), salt))
    except ToolChoiceError as exc:
        raise RequestError(str(exc), "tool_choice") from None
    base = reply or _reply_text(messages)
    choices: list[PlannedChoice] = []
    for index in range(count):
        if calls:
            choices.append(PlannedChoice(index, None, calls, "tool_calls"))
            continue
        text = base if index == 0 or reply else f"{base} (choice {index + 1})"
        text = _json_reply(body, text) or text
        content, finish = _finish(text, body)
        choices.append(PlannedChoice(index, content, (), finish))
    prompt = count_messages(messages, body.get("tools") or ())
    return Plan(_response_id("chatcmpl-", salt), tuple(choices), _usage(prompt, choices))


def _prompts(body: dict[str, Any]) -> list[str]:
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        return [prompt]
    if isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
        return list(prompt)
    raise RequestError("'prompt' must be a string or a non-empty array of strings", "prompt")


def plan_completion(body: dict[str, Any], *, reply: str, salt: str) -> Plan:
    """The complete answer to a legacy completions request (n choices per prompt)."""
    prompts = _prompts(body)
    count = _count_choices(body)
    choices: list[PlannedChoice] = []
    completion_tokens = 0
    for prompt in prompts:
        for copy in range(count):
            text = reply or f' continues "{_quote(prompt)}" deterministically.'
            if copy and not reply:
                text += f" (choice {copy + 1})"
            content, finish = _finish(text, body)
            completion_tokens += count_text(content)
            if body.get("echo"):
                content = prompt + content
            choices.append(PlannedChoice(len(choices), content, (), finish))
    usage = Usage(
        prompt_tokens=sum(count_text(p) for p in prompts), completion_tokens=completion_tokens
    )
    return Plan(_response_id("cmpl-", salt), tuple(choices), usage)
