"""The Messages API REST surface (google.api.HttpBody RPCs behind Envoy).

The request is translated once into the unified format (surfaces/messages/) and
goes through the same pipeline as every other surface — authentication (Bearer or
`x-api-key`), allowed models, routing, limits, retries and failover, usage, cost,
traces. The client's own body rides along: a backend that takes the Messages
format as is answers in it (`native`), and its bytes are relayed unchanged;
any other answers in the unified format, translated back here. Errors have the
Messages API's shape (surfaces/messages/errors.py, rendered by the kernel's
interceptor through `errors.error_trailers`); after a stream has begun they are
sent in-band as an `error` event.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import grpc
import orjson
from agentopia.v1 import messages_service_pb2_grpc as ms_grpc
from agentopia.v1 import provider_service_pb2 as pv_pb2
from google.api import httpbody_pb2

from keyvault.client.keycache import KeyCache
from services.kernel.errors import GatewayError
from services.kernel.interceptor import request_id_of
from services.router.body import CHAT, ParsedBody, parse_body
from services.router.call_context import (
    Metadata,
    client_token,
    forwarded_headers,
    requirements_header,
    response_headers,
)
from services.router.pipeline import Inbound, InferenceRequest, Pipeline
from services.router.routing import profile_request
from services.router.streams import StreamOpened
from services.router.surfaces.messages.errors import error_event
from services.router.surfaces.messages.request import count_request, to_unified, validate_request
from services.router.surfaces.messages.response import message_body
from services.router.surfaces.messages.stream import MessagesStream

__all__ = ["SURFACE", "TOKEN_COUNT_HEADER", "MessagesServicer"]

SURFACE = "messages"
# Says who counted: `provider` (the backend's own counter) or `estimate` (the gateway's).
TOKEN_COUNT_HEADER = "x-agentopia-token-count"  # noqa: S105  (a header name)
_JSON = "application/json"
_SSE = "text/event-stream"
Context = grpc.aio.ServicerContext[Any, Any]


class MessagesServicer(ms_grpc.MessagesServiceServicer):
    def __init__(self, *, pipeline: Pipeline, keys: KeyCache, max_body_bytes: int) -> None:
        self._pipeline = pipeline
        self._keys = keys
        self._max_body_bytes = max_body_bytes

    async def CreateMessage(
        self, request: httpbody_pb2.HttpBody, context: Context
    ) -> AsyncIterator[httpbody_pb2.HttpBody]:
        inference = self._inference(request, context, counting=False)
        model = inference.parsed.model
        if not inference.parsed.stream:
            done = await self._pipeline.complete(inference)
            body = done.body if done.native else _translated(done.body, model)
            await context.send_initial_metadata(
                response_headers(inference.request_id, done.headers)
            )
            yield httpbody_pb2.HttpBody(content_type=_JSON, data=body)
            return
        opened = await self._pipeline.open_stream(inference)
        opened.close_when_done(context)
        await context.send_initial_metadata(response_headers(inference.request_id, opened.headers))
        if opened.native:
            async for body in _relayed(opened):
                yield body
            return
        estimate = profile_request(inference.parsed.body).prompt_tokens
        async for body in _translated_stream(opened, model, estimate):
            yield body

    async def CountMessageTokens(
        self, request: httpbody_pb2.HttpBody, context: Context
    ) -> httpbody_pb2.HttpBody:
        inference = self._inference(request, context, counting=True)
        tokens = await self._pipeline.count_tokens(inference)
        counted_by = "provider"
        if tokens is None:
            tokens, counted_by = profile_request(inference.parsed.body).prompt_tokens, "estimate"
        await context.send_initial_metadata(
            (*response_headers(inference.request_id, {}), (TOKEN_COUNT_HEADER, counted_by))
        )
        return httpbody_pb2.HttpBody(
            content_type=_JSON, data=orjson.dumps({"input_tokens": tokens})
        )

    def _inference(
        self, request: httpbody_pb2.HttpBody, context: Context, *, counting: bool
    ) -> InferenceRequest:
        metadata: Metadata = context.invocation_metadata() or ()  # type: ignore[assignment]
        principal = self._keys.authenticate(client_token(metadata))
        body = parse_body(request.data, CHAT, max_bytes=self._max_body_bytes).body
        validate_request(body, counting=counting)
        untranslatable: tuple[str, ...] = ()
        if counting:
            unified = count_request(body)
        else:
            translation = to_unified(body)
            unified, untranslatable = translation.unified, translation.untranslatable
        stream = unified.get("stream") is True
        return InferenceRequest(
            parsed=ParsedBody(operation=CHAT, body=unified, model=body["model"], stream=stream),
            raw=orjson.dumps(unified),
            principal=principal,
            request_id=request_id_of(context),
            deadline_s=context.time_remaining(),
            requirements_header=requirements_header(metadata),
            surface=SURFACE,
            inbound=Inbound(
                format=pv_pb2.INBOUND_FORMAT_MESSAGES,
                raw=request.data,
                untranslatable=untranslatable,
                headers=forwarded_headers(metadata),
            ),
        )


def _translated(body: bytes, model: str) -> bytes:
    return orjson.dumps(message_body(orjson.loads(body), model))


async def _relayed(opened: StreamOpened) -> AsyncIterator[httpbody_pb2.HttpBody]:
    """A native stream: the backend's events, byte for byte."""
    yield httpbody_pb2.HttpBody(content_type=_SSE, data=opened.first)
    try:
        async for events, _last in opened.rest():  # iterated to the end: it accounts
            if events:
                yield httpbody_pb2.HttpBody(data=events)
    except GatewayError as error:
        yield httpbody_pb2.HttpBody(data=error_event(error))


async def _translated_stream(
    opened: StreamOpened, model: str, estimate: int
) -> AsyncIterator[httpbody_pb2.HttpBody]:
    translator = MessagesStream(response_model=model, input_tokens=estimate)
    # Closed (and so accounted, its plan released) however the loop ends.
    async with contextlib.aclosing(opened.rest()) as rest:  # type: ignore[type-var]
        try:
            yield httpbody_pb2.HttpBody(content_type=_SSE, data=translator.feed(opened.first))
            async for events, _last in rest:
                out = translator.feed(events)
                if out:
                    yield httpbody_pb2.HttpBody(data=out)
            closing = translator.finish()
        except GatewayError as error:
            # Headers are gone: the only honest signal left is an in-band error event.
            yield httpbody_pb2.HttpBody(content_type=_SSE, data=error_event(error))
            async for _ in rest:  # a translation error: end the upstream call now
                break
            return
    yield httpbody_pb2.HttpBody(data=closing)
