"""Small in-test servicers standing in for the router and the key vault."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
from agentopia.v1 import (
    client_key_service_pb2,
    client_key_service_pb2_grpc,
    openai_compat_service_pb2,
    openai_compat_service_pb2_grpc,
)
from google.api import httpbody_pb2
from google.protobuf import timestamp_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

from services.kernel.errors import GatewayError
from services.kernel.hosting import server_options

SSE = "text/event-stream"
# What a client sends: the edge refuses bodies without a credential that could be a key
# (gateway/guards.py) before any service sees them; the stubs do not check it.
CLIENT_AUTH = {"Authorization": "Bearer sk-agp-edge-test-key"}
JSON = "application/json"


def completion(content: str, *, created: int = 1_700_000_000) -> dict[str, Any]:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": created,
        "model": "mock/echo",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    body = {
        "id": "chatcmpl-stub",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "mock/echo",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"


STREAM_CHUNKS = (
    chunk({"role": "assistant", "content": ""}),
    chunk({"content": "Hello"}),
    chunk({"content": ", wörld"}),
    chunk({}, "stop"),
    b"data: [DONE]\n\n",
)


def openai_error(message: str, type_: str, code: str, param: str | None = None) -> str:
    return json.dumps({"error": {"message": message, "type": type_, "param": param, "code": code}})


@dataclass
class RouterStub(openai_compat_service_pb2_grpc.OpenAICompatServiceServicer):
    """Behaviour chosen by the request's `model`; everything it saw is recorded."""

    bodies: list[bytes] = field(default_factory=list)
    metadata: list[dict[str, str]] = field(default_factory=list)
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    streaming: asyncio.Event = field(default_factory=asyncio.Event)

    async def ChatCompletions(
        self, request: httpbody_pb2.HttpBody, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[httpbody_pb2.HttpBody]:
        self.bodies.append(request.data)
        self.metadata.append(
            {k: v for k, v in context.invocation_metadata() or () if isinstance(v, str)}
        )
        payload = json.loads(request.data)
        model = payload.get("model", "")
        if model.startswith("error-"):
            await self._fail(model, context)
        if model == "endless":
            async for body in self._endless():
                yield body
            return
        if payload.get("stream"):
            for data in STREAM_CHUNKS:
                yield httpbody_pb2.HttpBody(content_type=SSE, data=data)
            return
        text = json.dumps(completion("echo:" + payload["messages"][-1]["content"]))
        yield httpbody_pb2.HttpBody(content_type=JSON, data=text.encode())

    async def _fail(self, model: str, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        if model == "error-404":
            meta = (
                (
                    "x-agentopia-error",
                    openai_error(
                        "The model 'nope' does not exist.",
                        "not_found_error",
                        "model_not_found",
                        "model",
                    ),
                ),
            )
            await context.abort(grpc.StatusCode.NOT_FOUND, "model not found", meta)
        if model == "error-429":
            meta = (
                (
                    "x-agentopia-error",
                    openai_error("Slow down.", "rate_limit_error", "rate_limited"),
                ),
                ("x-agentopia-http-status", "429"),
                ("retry-after", "7"),
            )
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "slow down", meta)
        if model == "error-413":
            meta = (
                (
                    "x-agentopia-error",
                    openai_error("Too big.", "invalid_request_error", "request_too_large"),
                ),
                ("x-agentopia-http-status", "413"),
            )
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "too big", meta)
        if model == "error-gateway":
            # A GatewayError without the header: google.rpc.Status details that the
            # transcoder renders only when error_details.proto is in the descriptor set.
            error = GatewayError(
                grpc.StatusCode.UNAVAILABLE, "upstream_unavailable", "Provider down; retry in 5%."
            )
            await error.abort(context)
        # No header: the transcoder's google.rpc.Status JSON, wrapped by the edge.
        await context.abort(grpc.StatusCode.UNAVAILABLE, 'upstream "down"; retry later')

    async def _endless(self) -> AsyncIterator[httpbody_pb2.HttpBody]:
        try:
            yield httpbody_pb2.HttpBody(content_type=SSE, data=chunk({"role": "assistant"}))
            self.streaming.set()
            while True:
                await asyncio.sleep(0.01)
                yield httpbody_pb2.HttpBody(content_type=SSE, data=chunk({"content": "."}))
        except asyncio.CancelledError:
            self.cancelled.set()
            raise

    async def Models(
        self,
        request: openai_compat_service_pb2.ModelsRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> httpbody_pb2.HttpBody:
        if ("authorization", "Bearer sk-agp-bad") in (context.invocation_metadata() or ()):
            error = openai_error("Incorrect API key.", "invalid_request_error", "invalid_api_key")
            meta = (("x-agentopia-error", error), ("x-agentopia-http-status", "401"))
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "bad key", meta)
        body = {
            "object": "list",
            "data": [{"id": "mock/echo", "object": "model", "created": 1, "owned_by": "mock"}],
        }
        return httpbody_pb2.HttpBody(content_type=JSON, data=json.dumps(body).encode())

    async def Model(
        self,
        request: openai_compat_service_pb2.ModelRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> httpbody_pb2.HttpBody:
        if request.model == "missing":
            await context.abort(grpc.StatusCode.NOT_FOUND, "no model 'missing' (100% sure)")
        body = {"id": request.model, "object": "model", "created": 1, "owned_by": "mock"}
        return httpbody_pb2.HttpBody(content_type=JSON, data=json.dumps(body).encode())


@dataclass
class KeyVaultStub(client_key_service_pb2_grpc.ClientKeyServiceServicer):
    keys: dict[str, client_key_service_pb2.ClientKey] = field(default_factory=dict)

    async def CreateClientKey(
        self,
        request: client_key_service_pb2.CreateClientKeyRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> client_key_service_pb2.CreateClientKeyResponse:
        key_id = f"key_{len(self.keys) + 1:04x}"
        key = client_key_service_pb2.ClientKey(
            key_id=key_id,
            prefix="sk-agp-abc",
            name=request.name,
            role=request.role,
            allowed_models=request.allowed_models,
            create_time=timestamp_pb2.Timestamp(seconds=1_700_000_000),
        )
        self.keys[key_id] = key
        return client_key_service_pb2.CreateClientKeyResponse(key=key, secret="sk-agp-secret")

    async def ListClientKeys(
        self,
        request: client_key_service_pb2.ListClientKeysRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> client_key_service_pb2.ListClientKeysResponse:
        return client_key_service_pb2.ListClientKeysResponse(keys=list(self.keys.values()))

    async def GetClientKey(
        self,
        request: client_key_service_pb2.GetClientKeyRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> client_key_service_pb2.GetClientKeyResponse:
        if request.key_id == "key_gateway_error":
            error = GatewayError(grpc.StatusCode.NOT_FOUND, "key_not_found", "No such key.")
            await error.abort(context)
        if request.key_id not in self.keys:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no key {request.key_id}")
        return client_key_service_pb2.GetClientKeyResponse(key=self.keys[request.key_id])


async def start_server(*servicers: Any) -> tuple[grpc.aio.Server, int]:
    """A grpc.aio server on a free port with health and the given servicers."""
    server = grpc.aio.server(options=server_options(64 * 1024 * 1024))
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    for servicer in servicers:
        if isinstance(servicer, RouterStub):
            openai_compat_service_pb2_grpc.add_OpenAICompatServiceServicer_to_server(
                servicer, server
            )
        elif isinstance(servicer, KeyVaultStub):
            client_key_service_pb2_grpc.add_ClientKeyServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    await health.set("", health_pb2.HealthCheckResponse.SERVING)
    return server, port
