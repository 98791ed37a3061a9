"""Secret redaction and provider error-message extraction (pure).

Provider error bodies sometimes echo what they were sent: a 401 may quote a masked
key, proxies echo headers. Everything that leaves this service in an error message
goes through a `Redactor` first. The shapes of API keys are each provider's own
(its spec's `Vocabulary.key_prefixes`); the service builds one redactor from every
registered provider's (`Redactor.of`), so a key of any of them is caught wherever
it shows up.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from services.provider.vocabulary import Vocabulary

__all__ = ["GENERIC_REDACTOR", "REDACTED", "ProviderMessage", "Redactor", "extract_message"]

REDACTED = "[REDACTED]"
MAX_MESSAGE_CHARS = 500
_MIN_LITERAL_SECRET = 6

# Generic shapes: the gateway's own client keys (sk-agp-), bearer tokens and
# `api_key=...`-style assignments.
_OWN_KEY_PREFIXES = ("sk-agp-",)
_BEARER = r"(?i:bearer)\s+[A-Za-z0-9._~+/=\-*]{6,}"
_KEY_ASSIGNMENT = re.compile(
    r"(?i)((?:api[_-]?key|x-api-key|authorization|access[_-]?token|secret)"
    r"[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+"
)
_WHITESPACE = re.compile(r"\s+")


class Redactor:
    """Replaces known secrets and anything key-shaped. A key is a token that starts
    with one of the declared prefixes and goes on for 3+ key characters (masked
    echoes such as `sk-...****abcd` included)."""

    __slots__ = ("_tokens",)

    def __init__(self, key_prefixes: Iterable[str] = ()) -> None:
        prefixes = sorted({*_OWN_KEY_PREFIXES, *key_prefixes}, key=lambda p: (-len(p), p))
        alternatives = "|".join(re.escape(prefix) for prefix in prefixes)
        self._tokens = re.compile(
            rf"(?<![A-Za-z0-9])(?:{alternatives})[A-Za-z0-9_\-*.]{{3,}}|{_BEARER}"
        )

    @classmethod
    def of(cls, vocabularies: Iterable[Vocabulary]) -> Redactor:
        """The redactor for every key shape the given providers declare."""
        return cls(prefix for vocabulary in vocabularies for prefix in vocabulary.key_prefixes)

    def redact(self, text: str, secrets: Iterable[str] = ()) -> str:
        """`text` with every known secret and anything key-shaped replaced."""
        for secret in secrets:
            if len(secret) >= _MIN_LITERAL_SECRET:
                text = text.replace(secret, REDACTED)
        text = self._tokens.sub(REDACTED, text)
        return _KEY_ASSIGNMENT.sub(lambda m: m.group(1) + REDACTED, text)


# Only the generic shapes: for code that has no registered providers to ask.
GENERIC_REDACTOR = Redactor()


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
        # {error:{message,type,param,code}} (the OpenAI error format), also found
        # wrapped as {type:"error",error:{type,message}}
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


def _bounded(text: str, secrets: Iterable[str], redactor: Redactor) -> str:
    text = redactor.redact(_WHITESPACE.sub(" ", text).strip(), secrets)
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 1] + "…"
    return text


def extract_message(
    body: bytes | str | Mapping[str, Any],
    secrets: Iterable[str] = (),
    redactor: Redactor = GENERIC_REDACTOR,
) -> ProviderMessage:
    """The provider's own error message, type and code from an error body of any shape.

    JSON bodies in the OpenAI error format (bare or wrapped) give their fields; any other
    body gives a short redacted snippet of its text.
    """
    secrets = tuple(secrets)
    payload: Any = body
    if isinstance(body, bytes | str):
        try:
            payload = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            raw = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
            return ProviderMessage(message=_bounded(raw[:MAX_MESSAGE_CHARS], secrets, redactor))
    if not isinstance(payload, Mapping):
        return ProviderMessage()
    found = _from_object(payload)
    param = None if found.param is None else _bounded(found.param, secrets, redactor)
    return ProviderMessage(
        message=_bounded(found.message, secrets, redactor),
        type=_bounded(found.type, secrets, redactor)[:64],
        code=_bounded(found.code, secrets, redactor)[:64],
        param=param,
    )
