"""The typed InferenceService for internal gRPC callers: same pipeline as REST,
typed messages at the edges, canonical google.rpc.Status errors (raised as
GatewayError; the kernel's interceptor turns them, and any unexpected failure,
into the status, the latter quoting the call's request id)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import orjson
from agentopia.v1 import inference_service_pb2 as inf_pb2
from agentopia.v1 import inference_service_pb2_grpc as inf_grpc
from agentopia.v1 import model_pb2
from google.protobuf import json_format

from keyvault.client.keycache import KeyCache, bearer_token
from services.kernel.interceptor import request_id_of
from services.router import typed_codec
from services.router.body import CHAT, COMPLETIONS, EMBEDDINGS, validate_body
from services.router.call_context import (
    Metadata,
    model_or_404,
    requirements_header,
    response_headers,
)
from services.router.pipeline import Completed, InferenceRequest, Pipeline
from services.router.routing.capabilities import Capability, parse_capabilities
from services.router.routing.catalog import ModelCatalog

__all__ = ["InferenceServicer"]

Context = grpc.aio.ServicerContext[Any, Any]
Json = dict[str, Any]
_SURFACE = "grpc"  # the usage event's surface for every typed call


def _model_message(data: Json) -> model_pb2.Model:
    """The catalog's model object as the typed message (capabilities as enum values)."""
    capabilities = sorted(parse_capabilities(data.get("capabilities", ())))
    fields = {**data, "capabilities": [Capability.Name(c) for c in capabilities]}
    model = model_pb2.Model()
    json_format.ParseDict(fields, model, ignore_unknown_fields=True)
    return model


class InferenceServicer(inf_grpc.InferenceServiceServicer):
    def __init__(self, *, pipeline: Pipeline, keys: KeyCache, catalog: ModelCatalog) -> None:
        self._pipeline = pipeline
        self._keys = keys
        self._catalog = catalog

    async def CreateChatCompletion(
        self, request: inf_pb2.CreateChatCompletionRequest, context: Context
    ) -> inf_pb2.CreateChatCompletionResponse:
        body = typed_codec.chat_request_to_json(request.request)
        body["stream"] = False
        done = await self._complete(body, CHAT, context)
        completion = typed_codec.chat_completion_from_json(orjson.loads(done.body))
        return inf_pb2.CreateChatCompletionResponse(completion=completion)

    async def StreamChatCompletion(
        self, request: inf_pb2.StreamChatCompletionRequest, context: Context
    ) -> AsyncIterator[inf_pb2.StreamChatCompletionResponse]:
        body = typed_codec.chat_request_to_json(request.request)
        body["stream"] = True
        async for chunk in self._stream(body, CHAT, context, typed_codec.chat_chunk_from_json):
            yield inf_pb2.StreamChatCompletionResponse(chunk=chunk)

    async def CreateCompletion(
        self, request: inf_pb2.CreateCompletionRequest, context: Context
    ) -> inf_pb2.CreateCompletionResponse:
        body = typed_codec.completion_request_to_json(request.request)
        body["stream"] = False
        done = await self._complete(body, COMPLETIONS, context)
        completion = typed_codec.completion_from_json(orjson.loads(done.body))
        return inf_pb2.CreateCompletionResponse(completion=completion)

    async def StreamCompletion(
        self, request: inf_pb2.StreamCompletionRequest, context: Context
    ) -> AsyncIterator[inf_pb2.StreamCompletionResponse]:
        body = typed_codec.completion_request_to_json(request.request)
        body["stream"] = True
        async for chunk in self._stream(
            body, COMPLETIONS, context, typed_codec.completion_from_json
        ):
            yield inf_pb2.StreamCompletionResponse(chunk=chunk)

    async def CreateEmbeddings(
        self, request: inf_pb2.CreateEmbeddingsRequest, context: Context
    ) -> inf_pb2.CreateEmbeddingsResponse:
        body = typed_codec.embedding_request_to_json(request.request)
        done = await self._complete(body, EMBEDDINGS, context)
        response = typed_codec.embedding_response_from_json(orjson.loads(done.body))
        return inf_pb2.CreateEmbeddingsResponse(response=response)

    async def ListModels(
        self, request: inf_pb2.ListModelsRequest, context: Context
    ) -> inf_pb2.ListModelsResponse:
        principal = self._keys.authenticate(bearer_token(context.invocation_metadata()))
        models = [_model_message(data) for data in self._catalog.list_models(principal)]
        return inf_pb2.ListModelsResponse(models=models)

    async def GetModel(
        self, request: inf_pb2.GetModelRequest, context: Context
    ) -> inf_pb2.GetModelResponse:
        principal = self._keys.authenticate(bearer_token(context.invocation_metadata()))
        data = model_or_404(self._catalog, request.model, principal)
        return inf_pb2.GetModelResponse(model=_model_message(data))

    def _request(self, body: Json, operation: str, context: Context) -> InferenceRequest:
        metadata: Metadata = context.invocation_metadata() or ()  # type: ignore[assignment]
        principal = self._keys.authenticate(bearer_token(metadata))
        parsed = validate_body(body, operation)
        return InferenceRequest(
            parsed=parsed,
            raw=orjson.dumps(body),
            principal=principal,
            request_id=request_id_of(context),
            deadline_s=context.time_remaining(),
            requirements_header=requirements_header(metadata),
            surface=_SURFACE,
        )

    async def _complete(self, body: Json, operation: str, context: Context) -> Completed:
        inference = self._request(body, operation, context)
        done = await self._pipeline.complete(inference)
        await context.send_initial_metadata(response_headers(inference.request_id, done.headers))
        return done

    async def _stream(
        self, body: Json, operation: str, context: Context, convert: Callable[[Json], Any]
    ) -> AsyncIterator[Any]:
        inference = self._request(body, operation, context)
        opened = await self._pipeline.open_stream(inference)
        opened.close_when_done(context)
        await context.send_initial_metadata(response_headers(inference.request_id, opened.headers))
        for chunk in _chunks(opened.first):
            yield convert(chunk)
        async for events, _ in opened.rest():
            for chunk in _chunks(events):
                yield convert(chunk)


def _chunks(events: bytes) -> list[Json]:
    """The chunks inside SSE-framed events (`data: <json>\n\n` each)."""
    return [
        orjson.loads(event[len(_DATA) :])
        for event in events.split(_EVENT_END)
        if event.startswith(_DATA)
    ]


_DATA = b"data: "
_EVENT_END = b"\n\n"
