"""The byte relay of an OpenAI-compatible stream: forward a chunk without parsing it.

When the upstream already speaks the client's wire format, almost every chunk of
a stream differs from the previous one only in its delta: the envelope (`id`,
`object`, `created`, `model`) repeats byte for byte. After the first chunk has
been parsed (by the translator's full path), the relay knows that envelope as
the upstream writes it and as the client must see it (the client's model name,
the first chunk's id and created). A later chunk that starts with exactly the
upstream envelope, and carries nothing the translator must look at — usage, an
error, a vendor's private field, an empty `choices` — is forwarded as
`client envelope + the rest of its bytes`: no JSON parse, no dict, no dump.
Anything else returns None and takes the full path, so the relay can only ever
be faster, never different.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

__all__ = ["EnvelopeRelay"]

_ENVELOPE_KEYS = ("id", "object", "created", "model")
# A chunk holding one of these needs the translator's full path. (`system_fingerprint`
# may pass: the translator keeps the first one it parsed, which only a synthesized
# usage chunk repeats.)
_ALWAYS_PARSED = ('"error"',)
_CHOICES = '"choices":[{'


class EnvelopeRelay:
    """Learns the envelope from the first parsed chunk; relays the chunks that match it."""

    __slots__ = ("_client_head", "_markers", "_strip_usage", "_upstream_head")

    def __init__(self, parsed_fields: Iterable[str], *, include_usage: bool) -> None:
        """`parsed_fields`: the vendor's private fields and in-band error containers."""
        self._markers = tuple(f'"{name}"' for name in parsed_fields) + _ALWAYS_PARSED
        self._strip_usage = not include_usage
        self._upstream_head = ""
        self._client_head = ""

    @property
    def ready(self) -> bool:
        return bool(self._upstream_head)

    def learn(self, raw: str, chunk: dict[str, Any], client: dict[str, Any]) -> None:
        """Called with a chunk the full path handled: `raw` as received, `chunk` parsed,
        `client` what it sent to the client. Learns only a compact, key-ordered envelope."""
        if self._upstream_head:
            return
        upstream = {key: chunk.get(key) for key in _ENVELOPE_KEYS}
        head = orjson.dumps(upstream)[:-1].decode()  # `{"id":…,"model":"…"` without "}"
        if list(chunk)[:4] != list(_ENVELOPE_KEYS) or not raw.startswith(head + ","):
            return  # the upstream orders or spaces its envelope otherwise: always parse
        outgoing = {key: client.get(key) for key in _ENVELOPE_KEYS}
        self._upstream_head = head
        self._client_head = orjson.dumps(outgoing)[:-1].decode()

    def relay(self, raw: str) -> bytes | None:
        """The client's bytes for `raw`, or None when the full path must handle it."""
        head = self._upstream_head
        if not head or not raw.startswith(head) or raw[len(head)] != ",":
            return None
        if _CHOICES not in raw:
            return None  # empty or missing choices: the full path decides
        if "\n" in raw or "\r" in raw:
            return None  # a multi-line event: re-encoded compactly, so framing stays intact
        if '"usage"' in raw:
            # Only the per-chunk `"usage":null` placeholder may pass; real usage is parsed.
            if raw.count('"usage"') != 1 or '"usage":null' not in raw:
                return None
            if self._strip_usage:
                raw = raw.replace(',"usage":null', "", 1)
        for marker in self._markers:
            if marker in raw:
                return None
        return (self._client_head + raw[len(head) :]).encode()
