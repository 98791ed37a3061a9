"""A deterministic tokenizer approximation for the mock's usage numbers (pure).

Words and punctuation marks count one token each, plus one more per six
characters of a long word; messages add OpenAI's per-message overhead. The
numbers are stable for the same input, which is what tests and demos need.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import orjson

__all__ = ["IMAGE_TOKENS", "count_messages", "count_text"]

_PIECE = re.compile(r"\w+|[^\w\s]")
IMAGE_TOKENS = 85
_PER_MESSAGE = 3
_REPLY_PRIMING = 3


def count_text(text: str) -> int:
    return sum(1 + (len(piece) - 1) // 6 for piece in _PIECE.findall(text))


def _count_content(content: Any) -> int:
    if isinstance(content, str):
        return count_text(content)
    if not isinstance(content, list):
        return 0
    total = 0
    for part in content:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "text":
            total += count_text(str(part.get("text", "")))
        elif part.get("type") in ("image_url", "input_image"):
            total += IMAGE_TOKENS
        else:
            total += count_text(orjson.dumps(part).decode())
    return total


def count_messages(messages: Sequence[Any], tools: Sequence[Any] = ()) -> int:
    """Prompt tokens of a chat request."""
    total = _REPLY_PRIMING
    for message in messages:
        if not isinstance(message, dict):
            continue
        total += _PER_MESSAGE + count_text(str(message.get("role", "")))
        total += _count_content(message.get("content"))
        if message.get("name"):
            total += 1
        for call in message.get("tool_calls") or ():
            total += count_text(orjson.dumps(call).decode())
    if tools:
        total += count_text(orjson.dumps(list(tools)).decode())
    return total
