"""Secret redaction and provider error-message extraction (pure).

Provider error bodies sometimes echo what they were sent: OpenAI's 401 quotes a
masked key, proxies echo headers. Everything that leaves this service in an
error message goes through `redact` first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = ["REDACTED", "ProviderMessage", "extract_message", "redact"]

REDACTED = "[REDACTED]"
MAX_MESSAGE_CHARS = 500
_MIN_LITERAL_SECRET = 6

# Key-like tokens: OpenAI (sk-, sk-proj-), Anthropic (sk-ant-), our client keys
# (sk-agp-), Groq (gsk_), xAI (xai-), Google (AIza), masked echoes (sk-...****abcd),
# bearer tokens and `api_key=...`-style assignments.
_KEY_TOKEN = re.compile(
    r"(?<![A-Za-z0-9])(?:sk-|gsk_|xai-)[A-Za-z0-9_\-*.]{3,}"
    r"|(?<![A-Za-z0-9])AIza[0-9A-Za-z_\-]{20,}"
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/=\-*]{6,}"
)
_KEY_ASSIGNMENT = re.compile(
    r"(?i)((?:api[_-]?key|x-api-key|authorization|access[_-]?token|secret)"
    r"[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+"
)
_WHITESPACE = re.compile(r"\s+")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every known secret and anything key-shaped replaced."""
    for secret in secrets:
        if len(secret) >= _MIN_LITERAL_SECRET:
            text = text.replace(secret, REDACTED)
    text = _KEY_TOKEN.sub(REDACTED, text)
    return _KEY_ASSIGNMENT.sub(lambda m: m.group(1) + REDACTED, text)


@dataclass(frozen=True, slots=True)
class ProviderMessage:
    """What a provider said about a failure (already redacted and bounded)."""

    message: str = ""
    type: str = ""
    code: str = ""
    param: str | None = None


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _from_object(payload: Mapping[str, Any]) -> ProviderMessage:
    error = payload.get("error")
    if isinstance(error, Mapping):
        # OpenAI/Groq {error:{message,type,param,code}};
        # Anthropic {type:"error",error:{type,message}}
        param = error.get("param")
        return ProviderMessage(
            message=_text(error.get("message")),
            type=_text(error.get("type")),
            code=_text(error.get("code")),
            param=None if param is None else _text(param),
        )
    if isinstance(error, str):
        return ProviderMessage(message=error, type=_text(payload.get("type")))
    for key in ("message", "detail"):
        if key in payload:
            return ProviderMessage(message=_text(payload[key]))
    return ProviderMessage()


def _bounded(text: str, secrets: Iterable[str]) -> str:
    text = redact(_WHITESPACE.sub(" ", text).strip(), secrets)
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 1] + "…"
    return text


def extract_message(
    body: bytes | str | Mapping[str, Any], secrets: Iterable[str] = ()
) -> ProviderMessage:
    """The provider's own error message, type and code from an error body of any shape.

    JSON bodies in the OpenAI or Anthropic shape give their fields; any other
    body gives a short redacted snippet of its text.
    """
    secrets = tuple(secrets)
    payload: Any = body
    if isinstance(body, bytes | str):
        try:
            payload = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            raw = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
            return ProviderMessage(message=_bounded(raw[:MAX_MESSAGE_CHARS], secrets))
    if not isinstance(payload, Mapping):
        return ProviderMessage()
    found = _from_object(payload)
    param = None if found.param is None else _bounded(found.param, secrets)
    return ProviderMessage(
        message=_bounded(found.message, secrets),
        type=_bounded(found.type, secrets)[:64],
        code=_bounded(found.code, secrets)[:64],
        param=param,
    )
