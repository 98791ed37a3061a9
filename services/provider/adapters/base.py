"""The narrow contract between the provider service and each provider adapter.

An adapter turns one unified call (an OpenAI-shaped request) into an upstream
call and the upstream answer back into OpenAI-shaped output. Translation is pure
(see each provider's translate.py / stream.py); the adapter class only wires it
to the injected `UpstreamHttp`. What an adapter cannot do is absent from its
`capabilities` (values of the one `agentopia.v1.Capability` enum), never a
stub method.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import orjson

from keyvault.client.provider_keys.credential import Credential
from services.provider.client.capabilities import (
    ALL_CAPABILITIES,
    Capability,
    CapabilityValue,
)

__all__ = [
    "ALL_CAPABILITIES",
    "GATEWAY_KEY",
    "Adapter",
    "Call",
    "Capability",
    "CapabilityValue",
    "Chunk",
    "Credential",
    "Operation",
    "Result",
    "SseEvent",
    "SseEvents",
    "StreamEnd",
    "Surface",
    "Timing",
    "TokenCounter",
    "UpstreamHttp",
    "UpstreamResponse",
    "UpstreamStream",
    "Usage",
    "native_surfaces",
]

Json = dict[str, Any]

# The top-level request key that belongs to the gateway, never to a provider: routing
# requirements, read by the router. (A provider may reserve one more for its own
# per-request settings: ProviderSpec.request_key.)
GATEWAY_KEY = "agentopia"


class Operation(enum.StrEnum):
    CHAT = "chat"  # /v1/chat/completions
    COMPLETIONS = "completions"  # /v1/completions (legacy)
    EMBEDDINGS = "embeddings"  # /v1/embeddings


class Surface(enum.StrEnum):
    """The wire format of `Call.body` and of what the adapter returns. UNIFIED is the
    OpenAI shape every adapter speaks; an adapter that also takes a client format as
    is lists it in `native_surfaces` (then the body is the client's own request, and
    results and chunks are in that format: chunks carry their SSE `event` names)."""

    UNIFIED = "unified"
    MESSAGES = "messages"  # the Messages API (POST /v1/messages)


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens billed. `prompt_tokens` includes cached and cache-creation tokens;
    `completion_tokens` includes reasoning tokens (OpenAI's convention)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_creation_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class Timing:
    first_byte_ms: float = 0.0
    total_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class Call:
    """One invocation as the adapter sees it."""

    operation: Operation
    body: Json  # the unified request: OpenAI Chat Completions / Completions JSON
    upstream_model: str
    response_model: str  # echoed in every response and chunk
    request_id: str
    default_max_tokens: int = 4096
    credential: Credential | None = None
    # Reserved request keys (GATEWAY_KEY, and the provider's own request key), taken
    # out of `body` so that no upstream ever sees them: e.g. per-request settings of
    # an adapter that reads its own (ProviderSpec.request_key).
    extensions: Mapping[str, Any] = field(default_factory=dict)
    surface: Surface = Surface.UNIFIED
    # The client's version and beta-feature headers (lower-case names), for a native
    # surface's adapter to forward where the upstream understands them.
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    @property
    def include_usage(self) -> bool:
        options = self.body.get("stream_options")
        return isinstance(options, dict) and bool(options.get("include_usage"))


@dataclass(frozen=True, slots=True)
class Result:
    """A complete response: the OpenAI-shaped body plus what accounting needs."""

    body: Json
    usage: Usage
    timing: Timing = Timing()
    rate_limits: Mapping[str, str] = field(default_factory=dict)


class Chunk:
    """One OpenAI `chat.completion.chunk` (or legacy `text_completion`) object.

    Held as a dict (`body`), as the client's JSON bytes (`json`), or both: an
    adapter that relays bytes unparsed sets only `json`, one that builds the chunk
    sets only `body`; each form is derived from the other on first use.
    `more` says that the next chunk is already at hand (it came in the same
    upstream read): the provider service sends chunks that arrive together as one
    message, and never waits for a chunk that has not arrived.
    `event` is the SSE event name, set only on a native surface whose stream names its
    events (the Messages API); unified chunks have none.
    """

    __slots__ = ("_body", "_json", "event", "more")

    def __init__(
        self,
        body: Json | None = None,
        *,
        json: bytes | None = None,
        more: bool = False,
        event: str | None = None,
    ) -> None:
        if body is None and json is None:
            raise ValueError("a Chunk needs a body or its JSON bytes")
        self._body = body
        self._json = json
        self.more = more
        self.event = event

    @property
    def body(self) -> Json:
        if self._body is None:
            assert self._json is not None
            self._body = orjson.loads(self._json)
        return self._body

    @property
    def json(self) -> bytes:
        if self._json is None:
            self._json = orjson.dumps(self._body)
        return self._json

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Chunk) and self.body == other.body

    __hash__ = None  # type: ignore[assignment]  # mutable cache, compared by value

    def __repr__(self) -> str:
        return f"Chunk({self.body!r}, more={self.more})"


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """Always the last item of a stream: the usage billed, whether or not the
    client asked for a usage chunk (that chunk, when asked, is a `Chunk` before this)."""

    usage: Usage
    timing: Timing = Timing()
    rate_limits: Mapping[str, str] = field(default_factory=dict)


class Adapter(Protocol):
    """What every provider adapter offers."""

    @property
    def name(self) -> str: ...

    @property
    def capabilities(self) -> frozenset[CapabilityValue]: ...

    async def generate(self, call: Call) -> Result:
        """One complete response; raises GatewayError on any failure."""
        ...

    def stream(self, call: Call) -> AsyncIterator[Chunk | StreamEnd]:
        """Chunks as the upstream produces them, then exactly one StreamEnd.

        Raises GatewayError before or between chunks; cancellation of the
        iterator must cancel the upstream request at once."""
        ...


def native_surfaces(adapter: Adapter) -> frozenset[Surface]:
    """The client formats an adapter takes as is (`native_surfaces`, when it declares
    one); every adapter speaks the unified format."""
    declared: frozenset[Surface] = getattr(adapter, "native_surfaces", frozenset())
    return declared


@runtime_checkable
class TokenCounter(Protocol):
    """An adapter whose upstream counts a native surface's input tokens itself."""

    async def count_tokens(self, call: Call) -> int:
        """Input tokens of `call.body` (in `call.surface`'s format)."""
        ...


# ---- the injected HTTP layer (implemented in services/provider/http.py) ----


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    timing: Timing = Timing()


@dataclass(frozen=True, slots=True)
class SseEvent:
    event: str  # "" when the stream sets no event name (OpenAI)
    data: str


class UpstreamStream(Protocol):
    status: int
    headers: Mapping[str, str]

    async def read_body(self) -> bytes:
        """The whole body (for error statuses)."""
        ...

    def events(self) -> SseEvents:
        """Server-sent events as they arrive, never buffered."""
        ...

    @property
    def first_byte_ms(self) -> float: ...


class SseEvents(Protocol):
    """The events of one upstream response, in order."""

    def __aiter__(self) -> SseEvents: ...

    async def __anext__(self) -> SseEvent: ...

    @property
    def buffered(self) -> bool:
        """Whether the next event has already arrived (taking it will not wait)."""
        ...


class UpstreamHttp(Protocol):
    """A pooled keep-alive client for one provider's base URL."""

    async def post(self, path: str, *, headers: Mapping[str, str], body: bytes) -> UpstreamResponse:
        """POST and read the complete response (any status)."""
        ...

    def stream(
        self, path: str, *, headers: Mapping[str, str], body: bytes
    ) -> AbstractAsyncContextManager[UpstreamStream]:
        """POST and hold the response open: `async with http.stream(...) as s:`.
        Leaving the block (or cancellation) closes the upstream connection."""
        ...
