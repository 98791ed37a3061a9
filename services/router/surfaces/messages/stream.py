"""Unified (OpenAI-shaped) stream chunks → Messages API stream events: a pure state machine.

Feed it the provider service's events (`data: <chunk>\\n\\n` frames, several per
message) and it returns the Messages events to write, framed with their names.
The sequence it guarantees, whatever the backend sends:

    message_start, ping,
    (content_block_start, content_block_delta*, content_block_stop)*,
    message_delta (stop_reason, usage), message_stop

One `message_start`. A block is opened only once its type is known (text,
thinking, tool_use), and closed before the next one opens; the delta that opened
it follows its `content_block_start`. Tool calls are matched by the unified
tool-call `index`: a new index opens a `tool_use` block (id, name), its argument
fragments are `input_json_delta`s. `message_delta` always comes — when the backend
never sent a finish reason, it says `tool_use` if a tool was called, else
`end_turn`. Usage: `message_start` carries the gateway's estimate of the input
tokens (the backend reports its count at the end), `message_delta` the billed
counts (input, cache reads, output).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from services.router.surfaces.messages.request import safe_tool_id
from services.router.surfaces.messages.response import (
    messages_usage,
    stop_reason,
    unexpected_upstream,
)

__all__ = ["MessagesStream"]

Json = dict[str, Any]
_DATA = b"data: "


def _event(name: str, data: Json) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class MessagesStream:
    """One stream's translation state; not reusable."""

    def __init__(self, *, response_model: str, input_tokens: int) -> None:
        self._model = response_model
        self._input_estimate = input_tokens
        self._started = False
        self._index = -1  # content-block index of the open block, or of the last one
        self._open: str | None = None  # "text" | "thinking" | "tool:<n>"
        self._tools_seen: set[int] = set()
        self._finish: Any = None
        self._usage: Any = None
        self._out: list[bytes] = []

    def feed(self, events: bytes) -> bytes:
        for frame in events.split(b"\n\n"):
            if frame.startswith(_DATA):
                chunk = orjson.loads(frame[len(_DATA) :])
                if isinstance(chunk, dict):
                    self._chunk(chunk)
        out, self._out = self._out, []
        return b"".join(out)

    def finish(self) -> bytes:
        """The closing events: the open block's stop, message_delta, message_stop."""
        self._start({})
        self._close()
        usage = messages_usage(self._usage)
        if self._usage is None:
            usage["input_tokens"] = self._input_estimate
        reason = stop_reason(self._finish, tool_calls=bool(self._tools_seen))
        self._emit(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": reason, "stop_sequence": None},
                "usage": usage,
            },
        )
        self._emit("message_stop", {"type": "message_stop"})
        out, self._out = self._out, []
        return b"".join(out)

    # ---- one unified chunk ----

    def _chunk(self, chunk: Json) -> None:
        self._start(chunk)
        if isinstance(chunk.get("usage"), Mapping):
            self._usage = chunk["usage"]
        choices = chunk.get("choices")
        for choice in choices if isinstance(choices, list) else []:
            if not isinstance(choice, Mapping) or choice.get("index", 0) != 0:
                continue  # one message: only the first choice is a Messages answer
            delta = choice.get("delta")
            if isinstance(delta, Mapping):
                self._delta(delta)
            if choice.get("finish_reason") is not None:
                self._finish = choice["finish_reason"]

    def _start(self, chunk: Json) -> None:
        if self._started:
            return
        self._started = True
        ident = chunk.get("id")
        ident = ident if isinstance(ident, str) and ident else "gateway"
        message: Json = {
            "id": ident if ident.startswith("msg_") else f"msg_{safe_tool_id(ident)}",
            "type": "message",
            "role": "assistant",
            "model": chunk.get("model") or self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": self._input_estimate,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": 0,
            },
        }
        self._emit("message_start", {"type": "message_start", "message": message})
        self._emit("ping", {"type": "ping"})

    def _delta(self, delta: Mapping[str, Any]) -> None:
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            self._open_block("thinking", {"type": "thinking", "thinking": "", "signature": ""})
            self._block_delta({"type": "thinking_delta", "thinking": reasoning})
        text = delta.get("content")
        if isinstance(text, str) and text:
            self._open_block("text", {"type": "text", "text": ""})
            self._block_delta({"type": "text_delta", "text": text})
        calls = delta.get("tool_calls")
        for call in calls if isinstance(calls, list) else []:
            if isinstance(call, Mapping):
                self._tool_delta(call)

    def _tool_delta(self, call: Mapping[str, Any]) -> None:
        number = call.get("index", 0)
        number = number if isinstance(number, int) else 0
        function = call.get("function")
        function = function if isinstance(function, Mapping) else {}
        key = f"tool:{number}"
        if number not in self._tools_seen:
            self._tools_seen.add(number)
            block: Json = {
                "type": "tool_use",
                "id": safe_tool_id(call.get("id") or f"toolu_{number}"),
                "name": function.get("name") or "",
                "input": {},
            }
            self._open_block(key, block)
        elif self._open != key:
            raise unexpected_upstream(f"arguments of tool call {number} arrived after it ended")
        fragment = function.get("arguments")
        if isinstance(fragment, str) and fragment:
            self._block_delta({"type": "input_json_delta", "partial_json": fragment})

    # ---- blocks ----

    def _open_block(self, key: str, block: Json) -> None:
        if self._open == key:
            return
        self._close()
        self._index += 1
        self._open = key
        self._emit(
            "content_block_start",
            {"type": "content_block_start", "index": self._index, "content_block": block},
        )

    def _block_delta(self, delta: Json) -> None:
        self._emit(
            "content_block_delta",
            {"type": "content_block_delta", "index": self._index, "delta": delta},
        )

    def _close(self) -> None:
        if self._open is None:
            return
        self._open = None
        self._emit("content_block_stop", {"type": "content_block_stop", "index": self._index})

    def _emit(self, name: str, data: Json) -> None:
        self._out.append(_event(name, data))
