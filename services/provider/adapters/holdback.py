"""Marking the chunks of a stream so that those that arrived together travel together.

An adapter translating an upstream stream keeps back the last chunk it produced
until it knows whether another follows without waiting: the next chunk of the
same upstream read, or the end of the stream. Kept-back chunks go out with
`more=True` (the provider service then puts them in one message with what
follows); the last chunk of a read goes out with `more=False` before the adapter
waits for the network, so no chunk ever waits for one that has not arrived.
"""

from __future__ import annotations

from services.provider.adapters.base import Chunk

__all__ = ["Holdback"]


class Holdback:
    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held: Chunk | None = None

    def push(self, chunk: Chunk) -> Chunk | None:
        """Keep `chunk` back; return the previous one (to yield now), marked `more`."""
        previous, self._held = self._held, chunk
        if previous is not None:
            previous.more = True
        return previous

    def release(self, *, more: bool) -> Chunk | None:
        """The kept-back chunk, to yield now: `more=False` before waiting for the
        upstream, `more=True` when the end of the stream follows at once."""
        held, self._held = self._held, None
        if held is not None:
            held.more = more
        return held
