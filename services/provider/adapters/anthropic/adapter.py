"""The Anthropic adapter: the pure translation wired to the injected `UpstreamHttp`.

POST {base}/v1/messages (the base URL has no /v1) with `x-api-key` and
`anthropic-version: 2023-06-01`. The key is the call's credential (resolved by the
servicer); it is only ever put in that header and handed to the error table as a
secret to scrub, never logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import orjson

from services.kernel.errors import GatewayError
from services.provider import errors as canonical
from services.provider.adapters.anthropic.errors import NAME, VOCABULARY, http_error
from services.provider.adapters.anthropic.native import (
    COUNT_TOKENS_PATH,
    NativeStream,
    native_body,
    native_headers,
    native_reply,
)
from services.provider.adapters.anthropic.response import completion_body, merge_usage, usage_from
from services.provider.adapters.anthropic.stream import StreamTranslator
from services.provider.adapters.anthropic.translate import (
    MESSAGES_PATH,
    request_headers,
    translate_request,
)
from services.provider.adapters.base import (
    Call,
    Capability,
    CapabilityValue,
    Chunk,
    Result,
    StreamEnd,
    Surface,
    Timing,
    UpstreamHttp,
    UpstreamResponse,
    UpstreamStream,
)
from services.provider.adapters.holdback import Holdback
from services.provider.http import rate_limits
from services.provider.redact import GENERIC_REDACTOR, Redactor

__all__ = ["API_KEY_ENV", "CAPABILITIES", "AnthropicAdapter"]

_log = logging.getLogger(__name__)

API_KEY_ENV = "ANTHROPIC_API_KEY"
CAPABILITIES = frozenset(
    {
        Capability.CAPABILITY_CHAT,
        Capability.CAPABILITY_COMPLETIONS,
        Capability.CAPABILITY_STREAMING,
        Capability.CAPABILITY_TOOLS,
        Capability.CAPABILITY_PARALLEL_TOOLS,
        Capability.CAPABILITY_VISION,
        Capability.CAPABILITY_JSON_MODE,
        Capability.CAPABILITY_JSON_SCHEMA,
    }
)


class AnthropicAdapter:
    """Anthropic Messages API behind the OpenAI Chat Completions and Completions shapes."""

    def __init__(
        self,
        http: UpstreamHttp,
        *,
        redactor: Redactor = GENERIC_REDACTOR,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._http = http
        self._redactor = redactor
        self._clock = clock
        self._monotonic = monotonic

    @property
    def name(self) -> str:
        return NAME

    @property
    def capabilities(self) -> frozenset[CapabilityValue]:
        return CAPABILITIES

    @property
    def native_surfaces(self) -> frozenset[Surface]:
        return frozenset({Surface.MESSAGES})

    def _secret(self, call: Call) -> str:
        secret = call.credential.secret if call.credential is not None else ""
        if not secret:
            raise canonical.provider_not_configured(NAME, API_KEY_ENV)
        return secret

    def _payload(self, call: Call, *, stream: bool) -> bytes:
        body = translate_request(call)
        body.pop("stream", None)
        if stream:
            body["stream"] = True
        return orjson.dumps(body)

    async def generate(self, call: Call) -> Result:
        if call.surface is Surface.MESSAGES:
            return await self._relay(call)
        payload = self._payload(call, stream=False)
        secret = self._secret(call)
        _log.debug(
            "anthropic messages call request_id=%s model=%s", call.request_id, call.upstream_model
        )
        response, message = await self._message(secret, request_headers(secret), payload)
        totals: dict[str, int] = {}
        merge_usage(totals, message.get("usage"))
        usage = usage_from(totals)
        body = completion_body(
            message,
            usage,
            operation=call.operation,
            response_model=call.response_model,
            created=int(self._clock()),
        )
        return Result(
            body=body,
            usage=usage,
            timing=response.timing,
            rate_limits=rate_limits(response.headers, VOCABULARY),
        )

    async def stream(self, call: Call) -> AsyncIterator[Chunk | StreamEnd]:
        if call.surface is Surface.MESSAGES:
            async for item in self._relay_stream(call):
                yield item
            return
        payload = self._payload(call, stream=True)
        secret = self._secret(call)
        started = self._monotonic()
        _log.debug(
            "anthropic messages stream request_id=%s model=%s", call.request_id, call.upstream_model
        )
        async with self._http.stream(
            MESSAGES_PATH, headers=request_headers(secret), body=payload
        ) as upstream:
            if upstream.status != 200:
                body = await upstream.read_body()
                raise http_error(upstream.status, upstream.headers, body, (secret,), self._redactor)
            translator = StreamTranslator(
                operation=call.operation,
                response_model=call.response_model,
                created=int(self._clock()),
                include_usage=call.include_usage,
                secrets=(secret,),
                redactor=self._redactor,
            )
            # Read to the end even after message_stop (the API closes right after it),
            # so the connection goes back to the pool instead of being dropped.
            hold = Holdback()  # chunks that arrived together travel together
            events = upstream.events()
            try:
                async for event in events:
                    for chunk in translator.feed(event):
                        if (ready := hold.push(chunk)) is not None:
                            yield ready
                    if not events.buffered and (ready := hold.release(more=False)) is not None:
                        yield ready  # the read is used up: send before waiting for more
            except GatewayError:
                if (ready := hold.release(more=False)) is not None:
                    yield ready  # what arrived before an in-band error still reaches the client
                raise
            usage = translator.finish()
            if (ready := hold.release(more=True)) is not None:
                yield ready  # travels with the end of the stream
            timing = Timing(
                first_byte_ms=upstream.first_byte_ms,
                total_ms=(self._monotonic() - started) * 1000.0,
            )
            limits = rate_limits(upstream.headers, VOCABULARY)
        yield StreamEnd(usage=usage, timing=timing, rate_limits=limits)

    # ---- the Messages API as is (native.py) ----

    async def count_tokens(self, call: Call) -> int:
        secret = self._secret(call)
        body = {k: v for k, v in call.body.items() if k not in _NOT_COUNTED}
        response = await self._http.post(
            COUNT_TOKENS_PATH,
            headers=native_headers(secret, call.headers),
            body=native_body(body, call.upstream_model, stream=None),
        )
        if response.status != 200:
            raise http_error(
                response.status, response.headers, response.body, (secret,), self._redactor
            )
        try:
            tokens = orjson.loads(response.body).get("input_tokens")
        except (orjson.JSONDecodeError, AttributeError):
            tokens = None
        if not isinstance(tokens, int):
            raise canonical.invalid_upstream_response(NAME, "the count has no input_tokens")
        return tokens

    async def _message(
        self, secret: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[UpstreamResponse, dict[str, Any]]:
        """POST a Messages request; the response and its Message, or the canonical error."""
        response = await self._http.post(MESSAGES_PATH, headers=headers, body=body)
        if response.status != 200:
            raise http_error(
                response.status, response.headers, response.body, (secret,), self._redactor
            )
        try:
            message = orjson.loads(response.body)
        except orjson.JSONDecodeError:
            raise canonical.invalid_upstream_response(NAME, "the body is not JSON") from None
        if not isinstance(message, dict) or message.get("type") != "message":
            raise canonical.invalid_upstream_response(NAME, "the body is not a Message")
        return response, message

    async def _relay(self, call: Call) -> Result:
        secret = self._secret(call)
        response, message = await self._message(
            secret,
            native_headers(secret, call.headers),
            native_body(call.body, call.upstream_model, stream=False),
        )
        body, usage = native_reply(message, call.response_model)
        return Result(
            body=body,
            usage=usage,
            timing=response.timing,
            rate_limits=rate_limits(response.headers, VOCABULARY),
        )

    async def _relay_stream(self, call: Call) -> AsyncIterator[Chunk | StreamEnd]:
        secret = self._secret(call)
        started = self._monotonic()
        async with self._http.stream(
            MESSAGES_PATH,
            headers=native_headers(secret, call.headers),
            body=native_body(call.body, call.upstream_model, stream=True),
        ) as upstream:
            if upstream.status != 200:
                body = await upstream.read_body()
                raise http_error(upstream.status, upstream.headers, body, (secret,), self._redactor)
            relay = NativeStream(call.response_model, secrets=(secret,), redactor=self._redactor)
            async for chunk in _relayed(upstream, relay):
                yield chunk
            usage = relay.finish()
            timing = Timing(
                first_byte_ms=upstream.first_byte_ms,
                total_ms=(self._monotonic() - started) * 1000.0,
            )
            limits = rate_limits(upstream.headers, VOCABULARY)
        yield StreamEnd(usage=usage, timing=timing, rate_limits=limits)


# Generation settings the count_tokens endpoint does not take.
_NOT_COUNTED = frozenset(
    {"max_tokens", "stream", "stop_sequences", "temperature", "top_p", "top_k", "metadata"}
)


async def _relayed(upstream: UpstreamStream, relay: NativeStream) -> AsyncIterator[Chunk]:
    """Events that arrived together travel together (`more`), as on the translated path."""
    hold = Holdback()
    events = upstream.events()
    try:
        async for event in events:
            chunk = relay.feed(event)
            if chunk is not None and (ready := hold.push(chunk)) is not None:
                yield ready
            if not events.buffered and (ready := hold.release(more=False)) is not None:
                yield ready
    except GatewayError:
        if (ready := hold.release(more=False)) is not None:
            yield ready
        raise
    if (ready := hold.release(more=True)) is not None:
        yield ready
