"""OpenAI `messages` (and the legacy `prompt`) → Anthropic `system` + `messages` (pure).

System and developer messages are hoisted, in order, out of the conversation; user,
assistant and tool messages become content blocks; consecutive same-role turns merge
into one turn; a `tool` message becomes a `tool_result` block in the user turn right
after the assistant's `tool_use` blocks. See README.md for the decisions.
"""

from __future__ import annotations

import binascii
import re
from base64 import b64decode
from typing import Any

import orjson

from services.provider.adapters.anthropic.params import invalid

__all__ = ["IMAGE_MEDIA_TYPES", "chat_messages", "prompt_block"]

Json = dict[str, Any]

IMAGE_MEDIA_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_DATA_URL = re.compile(r"^data:(?P<media>[\w.+-]+/[\w.+-]+)(?P<params>(?:;[^,;]*)*),(?P<data>.*)$")


def chat_messages(messages: Any) -> tuple[list[str], list[Json]]:
    if not isinstance(messages, list) or not messages:
        raise invalid("invalid_value", "'messages' must be a non-empty list.", "messages")
    system: list[str] = []
    turns: list[Json] = []
    open_calls: list[str] = []  # tool_use ids of the last assistant turn not yet answered
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        role = message.get("role") if isinstance(message, dict) else None
        if role in ("system", "developer"):
            system.append(_plain_text(message.get("content"), f"{where}.content"))
            continue
        if role == "tool":
            _append(turns, "user", [_tool_result(message, where, open_calls)])
            continue
        if open_calls:
            raise _unanswered(open_calls, where)
        if role == "user":
            _append(turns, "user", _user_blocks(message.get("content"), f"{where}.content"))
        elif role == "assistant":
            blocks, open_calls = _assistant_blocks(message, where)
            _append(turns, "assistant", blocks)
        else:
            raise invalid(
                "unsupported_value",
                f"'{where}.role' must be system, developer, user, assistant or tool.",
                f"{where}.role",
            )
    if open_calls:
        raise _unanswered(open_calls, "messages")
    if not turns or turns[0]["role"] != "user":
        raise invalid(
            "invalid_value",
            "Anthropic models need the conversation to start with a user message "
            "(after any system messages); add one before the first assistant message.",
            "messages",
        )
    return system, turns


def _append(turns: list[Json], role: str, blocks: list[Json]) -> None:
    if turns and turns[-1]["role"] == role:
        turns[-1]["content"].extend(blocks)
    else:
        turns.append({"role": role, "content": blocks})


def _unanswered(ids: list[str], where: str) -> Exception:
    return invalid(
        "invalid_value",
        "An assistant message with 'tool_calls' must be followed by tool messages answering "
        f"each call; missing: {', '.join(ids)} (before {where}).",
        where,
    )


def _plain_text(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(_text_part(part, f"{where}[{j}]") for j, part in enumerate(content))
    raise invalid("invalid_type", f"'{where}' must be a string or a list of text parts.", where)


def _text_part(part: Any, where: str) -> str:
    if isinstance(part, dict) and part.get("type") in ("text", "refusal"):
        text = part.get("text", part.get("refusal"))
        if isinstance(text, str):
            return text
    raise invalid("unsupported_value", f"'{where}' must be a text part.", f"{where}.type")


def _text_blocks(content: Any, where: str) -> list[Json]:
    if isinstance(content, list):
        texts = [_text_part(part, f"{where}[{j}]") for j, part in enumerate(content)]
    else:
        texts = [_plain_text(content, where)] if content is not None else []
    return [{"type": "text", "text": text} for text in texts if text]


def _user_blocks(content: Any, where: str) -> list[Json]:
    if isinstance(content, list):
        blocks = [_user_part(part, f"{where}[{j}]") for j, part in enumerate(content)]
        blocks = [block for block in blocks if block.get("text") != ""]
    else:
        blocks = _text_blocks(content, where)
    if not blocks:
        raise invalid("invalid_value", f"'{where}' must not be empty.", where)
    return blocks


def _user_part(part: Any, where: str) -> Json:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        return _image_block(url, f"{where}.image_url.url")
    if kind == "text":
        return {"type": "text", "text": _text_part(part, where)}
    raise invalid(
        "unsupported_value",
        f"'{where}.type' is {kind!r}; Anthropic accepts text and image_url parts here.",
        f"{where}.type",
    )


def _image_block(url: Any, where: str) -> Json:
    if isinstance(url, str) and url.startswith(("https://", "http://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    match = _DATA_URL.match(url) if isinstance(url, str) else None
    if match is None or ";base64" not in match["params"].lower():
        raise invalid(
            "invalid_value", f"'{where}' must be an https URL or a base64 data: URL.", where
        )
    media = match["media"].lower()
    if media not in IMAGE_MEDIA_TYPES:
        raise invalid(
            "unsupported_value",
            f"Image type {media} is not supported; use JPEG, PNG, GIF or WebP.",
            where,
        )
    try:
        b64decode(match["data"], validate=True)
    except (binascii.Error, ValueError):
        raise invalid("invalid_value", f"'{where}' holds invalid base64 data.", where) from None
    return {
        "type": "image",
        "source": {"type": "base64", "media_type": media, "data": match["data"]},
    }


def _assistant_blocks(message: Json, where: str) -> tuple[list[Json], list[str]]:
    blocks = _text_blocks(message.get("content"), f"{where}.content")
    calls = message.get("tool_calls") or []
    if not isinstance(calls, list):
        raise invalid(
            "invalid_type", f"'{where}.tool_calls' must be a list.", f"{where}.tool_calls"
        )
    uses = [_tool_use(call, f"{where}.tool_calls[{k}]") for k, call in enumerate(calls)]
    if not blocks and not uses:
        raise invalid(
            "invalid_value", f"'{where}' needs content or tool_calls.", f"{where}.content"
        )
    return blocks + uses, [use["id"] for use in uses]


def _tool_use(call: Any, where: str) -> Json:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict) or not isinstance(call.get("id"), str) or not call["id"]:
        raise invalid("invalid_value", f"'{where}' needs an id and a function.", where)
    name, arguments = function.get("name"), function.get("arguments")
    if not isinstance(name, str) or not name:
        raise invalid(
            "invalid_value", f"'{where}.function.name' is required.", f"{where}.function.name"
        )
    param = f"{where}.function.arguments"
    if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
        parsed: Any = {}
    elif isinstance(arguments, str):
        try:
            parsed = orjson.loads(arguments)
        except orjson.JSONDecodeError:
            raise invalid(
                "invalid_value", f"'{param}' is not valid JSON; send a JSON object string.", param
            ) from None
    else:
        raise invalid("invalid_type", f"'{param}' must be a JSON string.", param)
    if not isinstance(parsed, dict):
        raise invalid("invalid_value", f"'{param}' must encode a JSON object.", param)
    return {"type": "tool_use", "id": call["id"], "name": name, "input": parsed}


def _tool_result(message: Json, where: str, open_calls: list[str]) -> Json:
    call_id = message.get("tool_call_id")
    if call_id not in open_calls:
        raise invalid(
            "invalid_value",
            f"'{where}.tool_call_id' ({call_id!r}) does not answer a tool call of the assistant "
            "message just before it.",
            f"{where}.tool_call_id",
        )
    open_calls.remove(call_id)
    result: Json = {"type": "tool_result", "tool_use_id": call_id}
    content = message.get("content")
    if isinstance(content, list):
        if blocks := _text_blocks(content, f"{where}.content"):
            result["content"] = blocks
    elif content:
        result["content"] = _plain_text(content, f"{where}.content")
    return result


def prompt_block(prompt: Any) -> Json:
    if isinstance(prompt, list) and len(prompt) == 1:
        prompt = prompt[0]
    if isinstance(prompt, list):
        raise invalid(
            "unsupported_value",
            "Anthropic models take one prompt per request; send one string as 'prompt'.",
            "prompt",
        )
    if not isinstance(prompt, str) or not prompt:
        raise invalid("invalid_value", "'prompt' must be a non-empty string.", "prompt")
    return {"type": "text", "text": prompt}
