"""Anthropic Messages SSE events → OpenAI stream chunks: a small pure state machine.

Feed it one `SseEvent` at a time; it returns the chunks to send (often none). The
flow it expects (platform.claude.com/docs/en/build-with-claude/streaming):
`message_start` (id, model, input and cache tokens), then per content block a
`content_block_start`, `content_block_delta`s and a `content_block_stop`, then
`message_delta` (stop_reason; cumulative usage), then `message_stop`; `ping`s
anywhere. An `error` event raises the canonical `GatewayError`; a stream that ends
before `message_stop` makes `finish()` raise: never a clean end.

Tool calls: a `tool_use` block opens OpenAI tool call number 0, 1, ... in order of
appearance (its own counter, not Anthropic's content-block index, which also counts
text blocks); its `input_json_delta.partial_json` fragments are that call's
`function.arguments` fragments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from services.provider.adapters.anthropic.errors import protocol_error, stream_error
from services.provider.adapters.anthropic.response import (
    finish_reason,
    merge_usage,
    openai_usage,
    usage_from,
)
from services.provider.adapters.base import Chunk, Operation, SseEvent, Usage
from services.provider.redact import GENERIC_REDACTOR, Redactor

__all__ = ["StreamTranslator"]

Json = dict[str, Any]


class StreamTranslator:
    """One upstream stream's translation state; not reusable."""

    def __init__(
        self,
        *,
        operation: Operation,
        response_model: str,
        created: int,
        include_usage: bool,
        secrets: tuple[str, ...] = (),
        redactor: Redactor = GENERIC_REDACTOR,
    ) -> None:
        self._secrets = secrets  # scrubbed from upstream error messages
        self._redactor = redactor
        self._chat = operation is Operation.CHAT
        self._model = response_model
        self._created = created
        self._include_usage = include_usage
        self._id: str | None = None
        self._tool_index: dict[int, int] = {}  # content-block index → OpenAI tool-call index
        self._tool_input: dict[int, Any] = {}  # tool calls with no argument fragment yet
        self._totals: dict[str, int] = {}
        self._stop_reason: Any = None
        self.done = False

    @property
    def usage(self) -> Usage:
        """Tokens so far: input (and cache) from message_start, output from the last
        message_delta."""
        return usage_from(self._totals)

    def feed(self, event: SseEvent) -> list[Chunk]:
        if self.done:
            return []
        try:
            data = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            raise protocol_error(f"an unparseable {event.event or 'data'} event") from None
        if not isinstance(data, dict):
            raise protocol_error("an event that is not a JSON object")
        kind = data.get("type") or event.event
        if kind == "error":
            raise stream_error(data, self._secrets, self._redactor)
        if kind == "message_start":
            return self._message_start(data.get("message"))
        handler = _HANDLERS.get(kind)
        if handler is None:
            return []  # ping, and event types added later (versioning policy)
        if self._id is None:
            raise protocol_error(f"{kind} before message_start")
        return handler(self, data)

    def finish(self) -> Usage:
        """The usage billed, once the stream has ended; raises if it ended early."""
        if not self.done:
            raise protocol_error("a stream that ended before message_stop")
        return self.usage

    # ---- events ----

    def _message_start(self, message: Any) -> list[Chunk]:
        if not isinstance(message, dict) or not isinstance(message.get("id"), str):
            raise protocol_error("a message_start without a message id")
        self._id = message["id"]
        merge_usage(self._totals, message.get("usage"))
        return [self._chunk({"role": "assistant", "content": ""})] if self._chat else []

    def _block_start(self, data: Json) -> list[Chunk]:
        index, block = data.get("index"), data.get("content_block")
        if not isinstance(block, dict):
            return []
        if block.get("type") == "tool_use" and self._chat and isinstance(index, int):
            position = self._tool_index[index] = len(self._tool_index)
            self._tool_input[position] = block.get("input") or {}
            call = {
                "index": position,
                "id": block.get("id"),
                "type": "function",
                "function": {"name": block.get("name"), "arguments": ""},
            }
            return [self._chunk({"tool_calls": [call]})]
        if block.get("type") == "text":
            return self._text(block.get("text"))
        return []  # thinking and server-tool blocks are not exposed

    def _block_delta(self, data: Json) -> list[Chunk]:
        index, delta = data.get("index"), data.get("delta")
        if not isinstance(delta, dict):
            return []
        if delta.get("type") == "text_delta":
            return self._text(delta.get("text"))
        position = self._tool_index.get(index) if isinstance(index, int) else None
        fragment = delta.get("partial_json")
        if delta.get("type") == "input_json_delta" and position is not None and fragment:
            self._tool_input.pop(position, None)
            return [self._arguments(position, fragment)]
        return []

    def _block_stop(self, data: Json) -> list[Chunk]:
        """A tool call that streamed no argument fragment (no parameters) still gets a
        JSON object as arguments: clients parse `arguments`, and "" is not JSON."""
        index = data.get("index")
        position = self._tool_index.get(index) if isinstance(index, int) else None
        if position is None or position not in self._tool_input:
            return []
        return [self._arguments(position, orjson.dumps(self._tool_input.pop(position)).decode())]

    def _message_delta(self, data: Json) -> list[Chunk]:
        delta = data.get("delta")
        if isinstance(delta, dict) and delta.get("stop_reason") is not None:
            self._stop_reason = delta["stop_reason"]
        merge_usage(self._totals, data.get("usage"))
        return []

    def _message_stop(self, data: Json) -> list[Chunk]:
        self.done = True
        reason = finish_reason(self._stop_reason)
        chunks = [self._chunk({}, reason) if self._chat else self._text_chunk("", reason)]
        if self._include_usage:
            chunks.append(Chunk({**self._head(), "choices": [], "usage": openai_usage(self.usage)}))
        return chunks

    # ---- chunks ----

    def _arguments(self, position: int, fragment: str) -> Chunk:
        return self._chunk(
            {"tool_calls": [{"index": position, "function": {"arguments": fragment}}]}
        )

    def _text(self, text: Any) -> list[Chunk]:
        if not isinstance(text, str) or not text:
            return []
        return [self._chunk({"content": text}) if self._chat else self._text_chunk(text, None)]

    def _head(self) -> Json:
        kind = "chat.completion.chunk" if self._chat else "text_completion"
        return {"id": self._id, "object": kind, "created": self._created, "model": self._model}

    def _chunk(self, delta: Json, reason: str | None = None) -> Chunk:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}
        return Chunk({**self._head(), "choices": [choice]})

    def _text_chunk(self, text: str, reason: str | None) -> Chunk:
        choice = {"text": text, "index": 0, "logprobs": None, "finish_reason": reason}
        return Chunk({**self._head(), "choices": [choice]})


_HANDLERS: dict[str, Callable[[StreamTranslator, Json], list[Chunk]]] = {
    "content_block_start": StreamTranslator._block_start,
    "content_block_delta": StreamTranslator._block_delta,
    "content_block_stop": StreamTranslator._block_stop,
    "message_delta": StreamTranslator._message_delta,
    "message_stop": StreamTranslator._message_stop,
}
