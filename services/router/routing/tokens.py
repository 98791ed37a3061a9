"""What a request needs before it is dispatched: its prompt tokens, output limit and
capabilities, read from the OpenAI-shaped body.

Token counts are a conservative *estimate*: exact BPE vocabularies (cl100k/o200k
and each model family's own) need files the router cannot download, and
one count has to serve every candidate model anyway. The estimate is designed
never to undercount the cl100k_base or o200k_base encodings on normal text:

- validated on ~1,000 samples (English prose, Python/JS code, JSON, protobuf,
  CSV, URLs, UUIDs, hex digests, base64, CJK, and Russian, German, French,
  Spanish, Arabic, Hindi, Greek, Hebrew, Japanese, Korean, Thai, Vietnamese,
  emoji) against the exact encodings: every sample of >= 20 tokens is estimated
  at or above both counts, and any text at most 1 token below (absorbed by the
  per-message overhead, itself above the 3 per message the chat format bills);
- it overcounts by about 1.3-1.7x on English and code, 1.9-2.8x on non-Latin
  scripts, which also leaves room for tokenizers that split finer than
  cl100k (some model families count roughly 1.1-1.3x cl100k on English);
- the known undercount is adversarial text: random rare CJK syllables and
  symbol soup (encoding test tables), down to ~0.7x; a provider's
  context-length error still fails over to a larger window (see retry.py).

A golden fixture of texts with their exact cl100k/o200k counts (recorded
offline) keeps the bound tested: tests/router/routing/fixtures/token_counts.json.

Cost: one UTF-8 encode, one `bytes.translate` and a few big-int bit operations,
all in C: about 2 µs for a short message, ~1 ms per 100 KB of prompt.
"""

from __future__ import annotations

import importlib
import math
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from services.router.routing.capabilities import (
    CHAT,
    COMPLETIONS,
    EMBEDDINGS,
    JSON_MODE,
    JSON_SCHEMA,
    LOGPROBS,
    MULTIPLE_CHOICES,
    STREAMING,
    TOOLS,
    VISION,
    Capabilities,
)

__all__ = [
    "IMAGE_TOKENS",
    "MESSAGE_OVERHEAD",
    "RequestProfile",
    "estimate_text_tokens",
    "local_exact_counter",
    "profile_request",
]

# Per message: the chat format bills 3 (plus 1 for a name); we add the role and slack.
MESSAGE_OVERHEAD = 4
REPLY_PRIMING = 3
TOOL_OVERHEAD = 8
# One image, whatever its size: above the ~1,600 tokens the largest published
# image cost reaches (1.15 MP images) and the 1,105 of a high-detail 2048x768
# image. Some small models bill images as ~33x more tokens; they do not use more
# context.
IMAGE_TOKENS = 1700

# Byte classes, one bit each, so that one translate gives every class at once.
_LOW, _UP, _DIGIT, _PUNCT, _SPACE, _NEWLINE, _NONASCII, _HEAVY = range(8)
# UTF-8 lead bytes of characters that cost an extra token: Greek (U+0340-03FF),
# Armenian/Hebrew (U+0580-05FF), general punctuation and symbols (U+2000-2FFF,
# e.g. curly quotes, circled letters), and every 4-byte character (emoji, rare CJK).
_HEAVY_LEADS = frozenset({0xCD, 0xCE, 0xCF, 0xD6, 0xD7, 0xE2, *range(0xF0, 0xF8)})


_ASCII_CLASSES = (
    (string.ascii_lowercase, _LOW),
    (string.ascii_uppercase, _UP),
    (string.digits, _DIGIT),
    ("\r\n", _NEWLINE),
    (" \t\f\v", _SPACE),
)


def _flags(byte: int) -> int:
    if byte >= 0x80:
        return 1 << _NONASCII | (1 << _HEAVY if byte in _HEAVY_LEADS else 0)
    char = chr(byte)
    kind = next((k for chars, k in _ASCII_CLASSES if char in chars), _PUNCT)
    return 1 << kind


_CLASS_TABLE = bytes(_flags(b) for b in range(256))


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def estimate_text_tokens(text: str) -> int:
    """A conservative BPE token count for `text` (see the module docstring)."""
    data = text.encode("utf-8", "surrogatepass")
    if not data:
        return 0
    # Big-endian: byte i is more significant than byte i+1, so `m >> 8` moves each
    # byte's flag onto the byte after it ("the previous byte was ...").
    bits = int.from_bytes(data.translate(_CLASS_TABLE), "big")
    ones = int.from_bytes(b"\x01" * len(data), "big")
    low, up, digit, punct, space, newline, nonascii, heavy = ((bits >> k) & ones for k in range(8))
    return (
        1
        + _letter_tokens(low, up)
        + _ceil_div(digit.bit_count() + 2 * (digit & ~(digit >> 8)).bit_count(), 3)
        + punct.bit_count()
        + (newline & ~(newline >> 8)).bit_count()
        + _space_tokens(space, low | up | punct | nonascii)
        + _ceil_div(nonascii.bit_count(), 2)
        + heavy.bit_count()
    )


def _letter_tokens(low: int, up: int) -> int:
    """ASCII words: one token per run, then more for long runs and case changes."""
    letters = low | up
    runs = (letters & ~(letters >> 8)).bit_count()
    # after_k: letters preceded by at least k letters of their own run (by doubling).
    after_1 = letters & (letters >> 8)
    after_2 = after_1 & (after_1 >> 8)
    after_4 = after_2 & (after_2 >> 16)
    after_8 = after_4 & (after_4 >> 32)
    after_10 = after_8 & (after_2 >> 64)
    beyond_4, beyond_10 = after_4.bit_count(), after_10.bit_count()
    case_changes = (
        (up & (low >> 8)).bit_count()  # camelCase / random mixed case
        + (low & (up >> 8) & (up >> 16)).bit_count()  # "ABCdef"
        + _ceil_div((up & (up >> 8)).bit_count(), 4)  # ALL-CAPS runs split finely
    )
    return runs + _ceil_div(beyond_4, 3) + _ceil_div(beyond_10, 6) + case_changes


def _space_tokens(space: int, mergeable: int) -> int:
    """Whitespace runs cost a token unless one space merges into the next word."""
    starts = space & ~(space >> 8)
    merged = starts & (mergeable << 8) & ~(space << 8)  # a single space before a word
    return starts.bit_count() - merged.bit_count()


@dataclass(frozen=True, slots=True)
class RequestProfile:
    """What a request needs from a model, known before dispatch."""

    prompt_tokens: int
    max_output_tokens: int | None  # the client's max_completion_tokens / max_tokens
    capabilities: Capabilities
    stream: bool = False
    # `n` (chat) or `n`/`best_of` (legacy completions): each choice is billed its own
    # output, so output estimates are multiplied by this.
    choices: int = 1


TextCounter = Callable[[str], int]


def profile_request(
    body: Mapping[str, Any],
    *,
    operation: str = "chat",
    count_text: TextCounter = estimate_text_tokens,
) -> RequestProfile:
    """Tokens, output limit and needed capabilities of an OpenAI-shaped body.

    Never raises on odd shapes: the router validated what it needs, the provider
    judges the rest; unknown parts are counted by their JSON text.
    """
    texts: list[str] = []
    fixed = 0
    images = 0
    if operation == "completions":
        fixed += _prompt_texts(body.get("prompt"), texts)
    elif operation == "embeddings":  # same input shapes as legacy prompts
        fixed += _prompt_texts(body.get("input"), texts)
    else:
        fixed += REPLY_PRIMING
        for message in _list(body.get("messages")):
            fixed += MESSAGE_OVERHEAD
            images += _message_texts(message, texts)
    tools = _list(body.get("tools")) or _list(body.get("functions"))
    if tools:
        fixed += TOOL_OVERHEAD * len(tools)
        texts.append(_json(tools))
    schema = _json_schema(body.get("response_format"))
    if schema is not None:
        texts.append(_json(schema))
    prompt = count_text("\n".join(texts)) + fixed + images * IMAGE_TOKENS
    return RequestProfile(
        prompt_tokens=prompt,
        max_output_tokens=_max_output(body),
        capabilities=_needed(body, operation, has_images=images > 0, has_tools=bool(tools)),
        stream=body.get("stream") is True,
        choices=_choices(body),
    )


def _choices(body: Mapping[str, Any]) -> int:
    """How many outputs the upstream generates (and bills): the larger of `n` and
    `best_of` (legacy completions generate `best_of` and return `n`)."""
    counts = [body.get("n"), body.get("best_of")]
    return max(
        [c for c in counts if isinstance(c, int) and not isinstance(c, bool) and c > 0] or [1]
    )


def _message_texts(message: Any, texts: list[str]) -> int:
    """Append a message's countable text; return how many images it carries."""
    if not isinstance(message, Mapping):
        texts.append(_json(message))
        return 0
    for key in ("role", "name", "tool_call_id", "refusal"):
        value = message.get(key)
        if isinstance(value, str):
            texts.append(value)
    images = _content_texts(message.get("content"), texts)
    for call in _list(message.get("tool_calls")):
        texts.append(_json(call))
    call = message.get("function_call")
    if call is not None:
        texts.append(_json(call))
    return images


def _content_texts(content: Any, texts: list[str]) -> int:
    if content is None:
        return 0
    if isinstance(content, str):
        texts.append(content)
        return 0
    images = 0
    for part in _list(content) if isinstance(content, list) else [content]:
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind in ("image_url", "image", "input_image"):
            images += 1
        else:
            texts.append(_json(part))
    return images


def _prompt_texts(prompt: Any, texts: list[str]) -> int:
    """Legacy completions: a string, strings, or token arrays (counted exactly)."""
    if isinstance(prompt, str):
        texts.append(prompt)
        return 0
    tokens = 0
    for item in _list(prompt):
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, int):
            tokens += 1
        elif isinstance(item, list):
            tokens += len(item)
    return tokens


def _needed(
    body: Mapping[str, Any], operation: str, *, has_images: bool, has_tools: bool
) -> Capabilities:
    if operation == "embeddings":  # nothing else applies: never a chat model
        return frozenset({EMBEDDINGS})
    needed = {COMPLETIONS if operation == "completions" else CHAT}
    if body.get("stream") is True:
        needed.add(STREAMING)
    if has_tools:
        needed.add(TOOLS)
    if has_images:
        needed.add(VISION)
    fmt = body.get("response_format")
    kind = fmt.get("type") if isinstance(fmt, Mapping) else None
    if kind == "json_schema":
        needed.add(JSON_SCHEMA)
    elif kind == "json_object":
        needed.add(JSON_MODE)
    if body.get("logprobs") is True:
        needed.add(LOGPROBS)
    n = body.get("n")
    if isinstance(n, int) and not isinstance(n, bool) and n > 1:
        needed.add(MULTIPLE_CHOICES)
    return frozenset(needed)


def _max_output(body: Mapping[str, Any]) -> int | None:
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _json_schema(fmt: Any) -> Any:
    if isinstance(fmt, Mapping) and fmt.get("type") == "json_schema":
        return fmt.get("json_schema")
    return None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _json(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return str(value)


def local_exact_counter(
    encoding: str = "o200k_base", *, margin: float = 1.25
) -> TextCounter | None:
    """An exact cl100k/o200k counter when a vocabulary is available offline.

    The optional `bpe_openai` module embeds cl100k_base/o200k_base; without it this
    returns None and callers keep `estimate_text_tokens`. One count serves every
    candidate model, so `margin` scales it for tokenizers that split finer than
    these encodings; pass 1.0 when only models using them can be chosen.
    """
    try:
        module: Any = importlib.import_module("bpe_openai")
        encoder = module.get_encoding(encoding)
    except (ImportError, AttributeError, ValueError, KeyError):
        return None

    def count(text: str) -> int:
        return math.ceil(len(encoder.encode(text)) * margin)

    return count
