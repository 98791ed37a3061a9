"""The OpenAI-compatible REST surface (google.api.HttpBody RPCs behind Envoy).

Bytes in, bytes out: the request body is forwarded as received and the
provider's OpenAI-shaped JSON is written back unchanged, framed as SSE when the
client asked for a stream. Errors are raised as GatewayError; the kernel's
interceptor ends the call with them, adding the OpenAI-shaped body the edge
serves (`errors.error_trailers`). Only an error after a stream has started is
handled here: the headers are gone, so it is sent in-band as an SSE event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import orjson
from agentopia.v1 import openai_compat_service_pb2 as oc_pb2
from agentopia.v1 import openai_compat_service_pb2_grpc as oc_grpc
from google.api import httpbody_pb2

from keyvault.client.keycache import KeyCache, bearer_token
from services.kernel.errors import GatewayError
from services.kernel.interceptor import request_id_of
from services.router.body import CHAT, COMPLETIONS, EMBEDDINGS, parse_body
from services.router.call_context import (
    Metadata,
    model_or_404,
    requirements_header,
    response_headers,
)
from services.router.errors import sse_error_event
from services.router.pipeline import InferenceRequest, Pipeline
from services.router.routing.catalog import ModelCatalog

__all__ = ["OpenAICompatServicer"]

_JSON = "application/json"
_SSE = "text/event-stream"
_DONE = b"data: [DONE]\n\n"
Context = grpc.aio.ServicerContext[Any, Any]


class OpenAICompatServicer(oc_grpc.OpenAICompatServiceServicer):
    def __init__(
        self, *, pipeline: Pipeline, keys: KeyCache, catalog: ModelCatalog, max_body_bytes: int
    ) -> None:
        self._pipeline = pipeline
        self._keys = keys
        self._catalog = catalog
        self._max_body_bytes = max_body_bytes

    async def ChatCompletions(
        self, request: httpbody_pb2.HttpBody, context: Context
    ) -> AsyncIterator[httpbody_pb2.HttpBody]:
        async for body in self._serve(request, context, CHAT):
            yield body

    async def Completions(
        self, request: httpbody_pb2.HttpBody, context: Context
    ) -> AsyncIterator[httpbody_pb2.HttpBody]:
        async for body in self._serve(request, context, COMPLETIONS):
            yield body

    async def Embeddings(
        self, request: httpbody_pb2.HttpBody, context: Context
    ) -> httpbody_pb2.HttpBody:
        """Passed through as sent (`encoding_format`, `dimensions`, token arrays); the
        backend's answer comes back as is. Streaming does not exist here."""
        metadata: Metadata = context.invocation_metadata() or ()  # type: ignore[assignment]
        principal = self._keys.authenticate(bearer_token(metadata))
        parsed = parse_body(request.data, EMBEDDINGS, max_bytes=self._max_body_bytes)
        inference = InferenceRequest(
            parsed=parsed,
            raw=request.data,
            principal=principal,
            request_id=request_id_of(context),
            deadline_s=context.time_remaining(),
            requirements_header=requirements_header(metadata),
            surface=EMBEDDINGS,
        )
        done = await self._pipeline.complete(inference)
        await context.send_initial_metadata(response_headers(inference.request_id, done.headers))
        return httpbody_pb2.HttpBody(content_type=_JSON, data=done.body)

    async def Models(
        self, request: oc_pb2.ModelsRequest, context: Context
    ) -> httpbody_pb2.HttpBody:
        principal = self._keys.authenticate(bearer_token(context.invocation_metadata()))
        models = self._catalog.list_models(principal)
        return httpbody_pb2.HttpBody(
            content_type=_JSON, data=orjson.dumps({"object": "list", "data": models})
        )

    async def Model(self, request: oc_pb2.ModelRequest, context: Context) -> httpbody_pb2.HttpBody:
        principal = self._keys.authenticate(bearer_token(context.invocation_metadata()))
        model = model_or_404(self._catalog, request.model, principal)
        return httpbody_pb2.HttpBody(content_type=_JSON, data=orjson.dumps(model))

    async def _serve(
        self, request: httpbody_pb2.HttpBody, context: Context, operation: str
    ) -> AsyncIterator[httpbody_pb2.HttpBody]:
        metadata: Metadata = context.invocation_metadata() or ()  # type: ignore[assignment]
        request_id = request_id_of(context)
        principal = self._keys.authenticate(bearer_token(metadata))
        parsed = parse_body(request.data, operation, max_bytes=self._max_body_bytes)
        inference = InferenceRequest(
            parsed=parsed,
            raw=request.data,
            principal=principal,
            request_id=request_id,
            deadline_s=context.time_remaining(),
            requirements_header=requirements_header(metadata),
            surface="chat_completions" if operation == CHAT else operation,
        )
        if not parsed.stream:
            done = await self._pipeline.complete(inference)
            await context.send_initial_metadata(response_headers(request_id, done.headers))
            yield httpbody_pb2.HttpBody(content_type=_JSON, data=done.body)
            return
        opened = await self._pipeline.open_stream(inference)
        opened.close_when_done(context)
        await context.send_initial_metadata(response_headers(request_id, opened.headers))
        # The events arrive framed for the client; each provider message is relayed as
        # one HTTP chunk, and `[DONE]` rides with the last one.
        if opened.first_is_last:
            yield httpbody_pb2.HttpBody(content_type=_SSE, data=opened.first + _DONE)
        else:
            yield httpbody_pb2.HttpBody(content_type=_SSE, data=opened.first)
        ended = opened.first_is_last
        try:
            async for events, last in opened.rest():
                ended = last
                yield httpbody_pb2.HttpBody(data=events + _DONE if last else events)
        except GatewayError as error:
            # Headers are gone: the only honest signal left is an in-band error event.
            yield httpbody_pb2.HttpBody(data=sse_error_event(error))
            return
        if not ended:
            yield httpbody_pb2.HttpBody(data=_DONE)
