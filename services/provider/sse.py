"""An incremental server-sent-events parser (pure: bytes in, events out).

Follows the WHATWG event-stream rules that matter for AI provider streams:
lines end in CRLF, LF or CR (a CR at the end of one chunk and the LF at the
start of the next are one line break); `event:` names the event; several
`data:` lines join with "\\n"; one space after the colon is dropped; lines
starting with ":" are comments (keep-alives); a blank line dispatches; an event
without data is not dispatched; unknown fields (`id`, `retry`, ...) are
ignored. Unlike a browser, `close()` also delivers a final event that was not
followed by a blank line, since some upstreams end that way.
"""

from __future__ import annotations

from services.provider.adapters.base import SseEvent

__all__ = ["SseEventTooLarge", "SseParser"]

_BOM = b"\xef\xbb\xbf"


class SseEventTooLarge(ValueError):
    """One event (or one unterminated line) passed the parser's bound."""


class SseParser:
    """Feed bytes as they arrive; take the events each feed completes.

    `max_event_bytes` bounds what is held for one event — its data lines so far plus
    an unterminated line — so a stream that never ends a line or an event cannot grow
    the buffer without limit (`SseEventTooLarge`)."""

    __slots__ = (
        "_buffer",
        "_data",
        "_data_bytes",
        "_event",
        "_has_data",
        "_max_event_bytes",
        "_skip_lf",
        "_started",
    )

    def __init__(self, *, max_event_bytes: int = 8 << 20) -> None:
        self._buffer = b""
        self._event = ""
        self._data: list[str] = []
        self._data_bytes = 0
        self._has_data = False
        self._max_event_bytes = max_event_bytes
        self._skip_lf = False
        self._started = False

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """Parse `chunk`; return the events it completed, in order."""
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk.startswith(b"\n"):
                chunk = chunk[1:]
        buffer = self._buffer + chunk if self._buffer else chunk
        if not self._started:
            if len(buffer) < len(_BOM) and _BOM.startswith(buffer):
                self._buffer = buffer
                return []
            self._started = True
            if buffer.startswith(_BOM):
                buffer = buffer[len(_BOM) :]
        events: list[SseEvent] = []
        lines = buffer.splitlines(keepends=True)
        self._buffer = b""
        if lines and not lines[-1].endswith((b"\n", b"\r")):
            self._buffer = lines.pop()
            if len(self._buffer) > self._max_event_bytes:
                raise SseEventTooLarge
        elif lines and lines[-1].endswith(b"\r"):
            # The LF of a CRLF may be the first byte of the next chunk.
            self._skip_lf = True
        for line in lines:
            event = self._line(line.rstrip(b"\r\n"))
            if event is not None:
                events.append(event)
        return events

    def close(self) -> list[SseEvent]:
        """End of stream: deliver a pending final line and event, if any."""
        events: list[SseEvent] = []
        if self._buffer:
            line, self._buffer = self._buffer, b""
            event = self._line(line)
            if event is not None:
                events.append(event)
        event = self._dispatch()
        if event is not None:
            events.append(event)
        return events

    def _line(self, line: bytes) -> SseEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(b":"):
            return None
        name, sep, value = line.partition(b":")
        if sep and value.startswith(b" "):
            value = value[1:]
        if name == b"data":
            self._data_bytes += len(value)
            if self._data_bytes > self._max_event_bytes:
                raise SseEventTooLarge
            self._data.append(value.decode("utf-8", "replace"))
            self._has_data = True
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")
        return None

    def _dispatch(self) -> SseEvent | None:
        event: SseEvent | None = None
        if self._has_data:
            event = SseEvent(event=self._event, data="\n".join(self._data))
        self._event = ""
        self._data = []
        self._data_bytes = 0
        self._has_data = False
        return event
