"""Pure translation of an OpenAI-compatible SSE stream into unified chunks.

One `StreamTranslator` per stream: feed it each event's `data` in order; it
returns the chunks to forward, rewritten so that every chunk carries the first
chunk's `id` and `created` and the client's `model`. Usage is always collected
(the upstream request always asks for it); the usage chunk (`"choices": []`)
reaches the client only when the client asked for it. No I/O, no clock.
"""

from __future__ import annotations

from typing import Any

import orjson

from services.provider.adapters.base import Chunk, Usage
from services.provider.adapters.openai_compat.relay import EnvelopeRelay
from services.provider.adapters.openai_compat.spec import CompatSpec
from services.provider.adapters.openai_compat.translate import extract_usage, usage_from
from services.provider.errors import connection_lost, invalid_upstream_response

__all__ = ["DONE", "InBandError", "StreamTranslator"]

Json = dict[str, Any]

DONE = "[DONE]"
_CHAT_CHUNK = "chat.completion.chunk"
# Keys every chunk may carry that say nothing by themselves.
_ENVELOPE = frozenset(
    {"id", "object", "created", "model", "system_fingerprint", "service_tier", "obfuscation"}
)


class InBandError(Exception):
    """The upstream reported an error inside the stream (`data: {"error": {...}}`).

    `payload` is `{"error": {...}}`; the adapter turns it into a GatewayError
    through the provider service's error table (`errors.stream_error`)."""

    def __init__(self, payload: Json) -> None:
        super().__init__("upstream stream error")
        self.payload = payload


class StreamTranslator:
    def __init__(self, spec: CompatSpec, *, response_model: str, include_usage: bool) -> None:
        self._spec = spec
        self._model = response_model
        self._include_usage = include_usage
        self._id: object = None
        self._created: object = None
        self._object: object = None
        self._fingerprint: object = None
        self._raw_usage: Json | None = None
        self._usage_sent = False
        self.done = False
        parsed = {
            *spec.private_fields,
            *(field for field, _ in spec.usage_fallbacks),
            *(field for field, _ in spec.stream_error_fallbacks),
        }
        self._relay = EnvelopeRelay(sorted(parsed), include_usage=include_usage)

    @property
    def usage(self) -> Usage:
        return usage_from(self._raw_usage)

    def feed(self, data: str, event: str = "") -> list[Chunk]:
        """The chunks to forward for one event (often one, sometimes none)."""
        text = data.strip()
        if self.done or not text:
            return []
        if text == DONE:
            self.done = True
            return []
        if not event:
            relayed = self._relay.relay(text)
            if relayed is not None:
                return [Chunk(json=relayed)]
        chunk = _parse(self._spec.name, text)
        if event == "error":
            raise InBandError(_error_object(chunk))
        self._raise_in_band(chunk)
        usage = extract_usage(self._spec, chunk)
        if usage is not None:
            self._raw_usage = usage
        self._remember(chunk)
        out = self._rewrite(chunk)
        if out is None:
            return []
        self._relay.learn(text, chunk, out)
        return [Chunk(body=out)]

    def finish(self) -> list[Chunk]:
        """Chunks still owed at the end of the stream; raises if it ended early."""
        if not self.done:
            raise connection_lost(self._spec.name, "the stream ended before data: [DONE]")
        if not self._include_usage or self._usage_sent or self._raw_usage is None:
            return []
        # The provider reported usage only inside another chunk (e.g. Groq's
        # x_groq.usage): give the client the usage chunk OpenAI would have sent.
        body: Json = {
            "id": self._id,
            "object": self._object or _CHAT_CHUNK,
            "created": self._created,
            "model": self._model,
            "choices": [],
        }
        if self._fingerprint is not None:
            body["system_fingerprint"] = self._fingerprint
        body["usage"] = self._raw_usage
        self._usage_sent = True
        return [Chunk(body=body)]

    def _raise_in_band(self, chunk: Json) -> None:
        if chunk.get("error"):
            raise InBandError(_error_object(chunk))
        for field, sub in self._spec.stream_error_fallbacks:
            container = chunk.get(field)
            if isinstance(container, dict) and container.get(sub):
                raise InBandError(
                    {"error": {"message": str(container[sub]), "type": "server_error"}}
                )

    def _remember(self, chunk: Json) -> None:
        if self._id is None:
            self._id = chunk.get("id")
            self._created = chunk.get("created")
        if self._object is None:
            self._object = chunk.get("object")
        if chunk.get("system_fingerprint") is not None:
            self._fingerprint = chunk["system_fingerprint"]

    def _rewrite(self, chunk: Json) -> Json | None:
        out = {k: v for k, v in chunk.items() if k not in self._spec.private_fields}
        choices = out.get("choices")
        if not isinstance(choices, list):
            choices = out["choices"] = []
        out["id"] = self._id
        out["created"] = self._created
        out["model"] = self._model
        has_usage = isinstance(out.get("usage"), dict)
        if not choices and has_usage:
            if not self._include_usage:
                return None
            self._usage_sent = True
            return out
        if not self._include_usage:
            out.pop("usage", None)
        elif has_usage:
            out["usage"] = None  # usage is reported once, in the usage chunk
        if not choices and set(out) <= _ENVELOPE | {"choices", "usage"}:
            return None  # nothing the client could use (e.g. a private-metadata frame)
        return out


def _parse(provider: str, text: str) -> Json:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise invalid_upstream_response(provider, "a stream event is not a JSON object")
    return value


def _error_object(chunk: Json) -> Json:
    """`{"error": {...}}` as the error table expects it, whatever the upstream sent."""
    error = chunk.get("error", chunk)
    if isinstance(error, dict):
        return {"error": error}
    return {"error": {"message": str(error), "type": "server_error"}}
