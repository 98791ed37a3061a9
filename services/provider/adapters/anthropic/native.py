"""The Messages API as is: a client speaking it reaches Anthropic losslessly (pure).

The client's body is forwarded unchanged except `model` (the upstream id the router
chose) — system blocks, `cache_control` anywhere, thinking and redacted-thinking
blocks with their signatures, documents, images, tools, `stop_sequences`,
`metadata`, `tool_choice` and fields this gateway does not know yet all survive.
The answer comes back unchanged except `model` (the name the client asked for).
`anthropic-beta` values the client sent are forwarded (merged, never replaced);
its `anthropic-version`, when given, replaces the adapter's default.

Streams are relayed event by event as raw bytes; only `message_start` and
`message_delta` are parsed, for the usage they carry (input and cache tokens in
the first, cumulative output tokens in the second). An `error` event raises the
canonical error (the router sends it to the client in the surface's own shape).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from services.provider.adapters.anthropic.errors import protocol_error, stream_error
from services.provider.adapters.anthropic.response import merge_usage, usage_from
from services.provider.adapters.anthropic.translate import API_VERSION
from services.provider.adapters.base import Chunk, SseEvent, Usage
from services.provider.redact import GENERIC_REDACTOR, Redactor

__all__ = ["COUNT_TOKENS_PATH", "NativeStream", "native_body", "native_headers", "native_reply"]

Json = dict[str, Any]
COUNT_TOKENS_PATH = "/v1/messages/count_tokens"
_VERSION = "anthropic-version"
_BETA = "anthropic-beta"


def native_headers(api_key: str, client: Mapping[str, str]) -> dict[str, str]:
    headers = {
        "x-api-key": api_key,
        _VERSION: client.get(_VERSION) or API_VERSION,
        "content-type": "application/json",
    }
    beta = client.get(_BETA)
    if beta:
        headers[_BETA] = beta
    return headers


def native_body(body: Mapping[str, Any], upstream_model: str, *, stream: bool | None) -> bytes:
    """The client's body with the upstream model id (and `stream` as the call needs)."""
    out = {**body, "model": upstream_model}
    if stream is not None:
        out.pop("stream", None)
        if stream:
            out["stream"] = True
    return orjson.dumps(out)


def native_reply(message: Json, response_model: str) -> tuple[Json, Usage]:
    totals: dict[str, int] = {}
    merge_usage(totals, message.get("usage"))
    return {**message, "model": response_model}, usage_from(totals)


class NativeStream:
    """One relayed stream: events in, the same events out (as Chunks with their
    names), usage kept on the side."""

    def __init__(
        self,
        response_model: str,
        *,
        secrets: tuple[str, ...],
        redactor: Redactor = GENERIC_REDACTOR,
    ) -> None:
        self._model = response_model
        self._secrets = secrets
        self._redactor = redactor
        self._totals: dict[str, int] = {}
        self.done = False

    @property
    def usage(self) -> Usage:
        return usage_from(self._totals)

    def feed(self, event: SseEvent) -> Chunk | None:
        name = event.event
        if name == "message_start":
            data = self._parse(event)
            message = data.get("message")
            if isinstance(message, dict):
                merge_usage(self._totals, message.get("usage"))
                data = {**data, "message": {**message, "model": self._model}}
            return Chunk(data, event=name)
        if name == "message_delta":
            merge_usage(self._totals, self._parse(event).get("usage"))
        elif name == "error":
            raise stream_error(self._parse(event), self._secrets, self._redactor)
        elif name == "message_stop":
            self.done = True
        elif not name:
            return None  # nothing the Messages API sends without a name
        return Chunk(json=event.data.encode(), event=name)

    def _parse(self, event: SseEvent) -> Json:
        try:
            data = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            raise protocol_error(f"an unparseable {event.event} event") from None
        if not isinstance(data, dict):
            raise protocol_error("an event that is not a JSON object")
        return data

    def finish(self) -> Usage:
        if not self.done:
            raise protocol_error("the stream ended before message_stop")
        return self.usage
