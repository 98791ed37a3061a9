"""ProviderService: proto in, adapter call, proto out — nothing else.

Parses `Invocation.request_json` into an `adapters.base.Call`, calls the
provider's adapter (through attempts.py: outcome reporting and one retry on
another key for leased provider keys) and serializes its output. Failures are
raised as `GatewayError`s (logged here with the call's provider and model); the
kernel's interceptor turns them, and anything unexpected, into the RPC's status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractContextManager
from typing import Any

import grpc
import orjson
from agentopia.v1 import chat_pb2, provider_service_pb2, provider_service_pb2_grpc

from services.kernel.errors import GatewayError
from services.provider import attempts, errors
from services.provider.adapters.base import (
    GATEWAY_KEY,
    Call,
    Capability,
    Chunk,
    Operation,
    StreamEnd,
    Surface,
    Timing,
    TokenCounter,
    Usage,
    native_surfaces,
)
from services.provider.http import call_limits
from services.provider.runtime import Provider, ProviderRuntime

__all__ = ["SERVICE_NAME", "ProviderServicer"]

_log = logging.getLogger(__name__)
SERVICE_NAME = provider_service_pb2.DESCRIPTOR.services_by_name["ProviderService"].full_name
Context = grpc.aio.ServicerContext[Any, Any]

_OPERATIONS: dict[int, Operation] = {
    provider_service_pb2.OPERATION_UNSPECIFIED: Operation.CHAT,
    provider_service_pb2.OPERATION_CHAT_COMPLETIONS: Operation.CHAT,
    provider_service_pb2.OPERATION_COMPLETIONS: Operation.COMPLETIONS,
    provider_service_pb2.OPERATION_EMBEDDINGS: Operation.EMBEDDINGS,
}
_SURFACES: dict[int, Surface] = {
    provider_service_pb2.INBOUND_FORMAT_MESSAGES: Surface.MESSAGES,
}


def _usage(usage: Usage) -> chat_pb2.Usage:
    return chat_pb2.Usage(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
        cached_tokens=usage.cached_tokens,
        cache_creation_tokens=usage.cache_creation_tokens,
        reasoning_tokens=usage.reasoning_tokens,
    )


def _timing(
    reported: Timing, first_byte_ms: float, total_ms: float
) -> provider_service_pb2.UpstreamTiming:
    """The adapter's timing, with what it left at zero filled from our measurement."""
    return provider_service_pb2.UpstreamTiming(
        first_byte_ms=reported.first_byte_ms or first_byte_ms,
        total_ms=reported.total_ms or total_ms,
    )


def _elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


def _parse_body(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise errors.invalid_json(str(exc)) from None
    if not isinstance(body, dict):
        raise errors.invalid_json(f"got a JSON {type(body).__name__}")
    return body


def _operation(value: int) -> Operation:
    operation = _OPERATIONS.get(value)
    if operation is None:
        raise GatewayError(
            status=grpc.StatusCode.INVALID_ARGUMENT,
            code="invalid_operation",
            message=f"Unknown operation {value}; use OPERATION_CHAT_COMPLETIONS or COMPLETIONS.",
        )
    return operation


def _limits_of(invocation: provider_service_pb2.Invocation) -> AbstractContextManager[None]:
    """The deployment's time limits, applied to the upstream requests of this call."""
    return call_limits(invocation.first_byte_timeout_s, invocation.total_timeout_s)


@contextlib.contextmanager
def _logged(invocation: provider_service_pb2.Invocation) -> Iterator[None]:
    """Log a failed call with what it was for, then let the error go on to the status."""
    try:
        yield
    except GatewayError as error:
        _log.info(
            "call failed: %s",
            error.code,
            extra={
                "request_id": invocation.request_id,
                "provider": invocation.provider,
                "model": invocation.upstream_model,
                "status": error.status.name,
            },
        )
        raise


class ProviderServicer(provider_service_pb2_grpc.ProviderServiceServicer):
    def __init__(self, runtime: ProviderRuntime) -> None:
        self._runtime = runtime
        self._closing: set[asyncio.Task[None]] = set()
        # Taken out of every body: the gateway's key and each provider's own.
        requested = (spec.request_key for spec in runtime.specs if spec.request_key)
        self._reserved = (GATEWAY_KEY, *requested)

    def _prepare(self, invocation: provider_service_pb2.Invocation) -> tuple[Provider, Call]:
        provider = self._runtime.get(invocation.provider)
        credential = provider.credential(invocation.credential_id)
        operation = _operation(invocation.operation)
        if operation is Operation.EMBEDDINGS:
            _require_embeddings(provider)
        surface = _SURFACES.get(invocation.inbound_format, Surface.UNIFIED)
        if surface in native_surfaces(provider.adapter):
            body = _parse_body(invocation.inbound_json)
        else:
            # Translated by the router: what the translation could not carry is refused.
            _refuse_untranslatable(provider, invocation)
            surface = Surface.UNIFIED
            body = _parse_body(invocation.request_json)
        extensions = {key: body.pop(key) for key in self._reserved if key in body}
        upstream_model = invocation.upstream_model or str(body.get("model") or "")
        call = Call(
            operation=operation,
            body=body,
            upstream_model=upstream_model,
            response_model=invocation.response_model or upstream_model,
            request_id=invocation.request_id,
            default_max_tokens=invocation.default_max_tokens or 4096,
            credential=credential,
            extensions=extensions,
            surface=surface,
            headers=dict(invocation.inbound_headers),
        )
        return provider, call

    async def Generate(
        self, request: provider_service_pb2.GenerateRequest, context: Context
    ) -> provider_service_pb2.GenerateResponse:
        invocation = request.invocation
        started = time.perf_counter()
        with _logged(invocation), _limits_of(invocation):
            provider, call = self._prepare(invocation)
            result = await attempts.generate(provider, call, invocation.credential_id)
        total_ms = _elapsed_ms(started)
        return provider_service_pb2.GenerateResponse(
            response_json=orjson.dumps(result.body),
            usage=_usage(result.usage),
            timing=_timing(result.timing, total_ms, total_ms),
            native=call.surface is not Surface.UNIFIED,
        )

    async def StreamGenerate(
        self, request: provider_service_pb2.StreamGenerateRequest, context: Context
    ) -> AsyncIterator[provider_service_pb2.StreamGenerateResponse]:
        invocation = request.invocation
        started = time.perf_counter()
        first_byte_ms = 0.0
        end: StreamEnd | None = None
        with _logged(invocation), _limits_of(invocation):
            provider, call = self._prepare(invocation)
            native = call.surface is not Surface.UNIFIED
            items = attempts.stream(provider, call, invocation.credential_id)
            guard = _StreamGuard(items, self._closing)
            # grpc-stubs declares DoneCallback as a class; any callable works.
            context.add_done_callback(guard.on_rpc_done)  # type: ignore[arg-type]
            try:
                pending: list[bytes] = []
                async for item in items:
                    if isinstance(item, StreamEnd):
                        end = item
                        break
                    if not first_byte_ms:
                        first_byte_ms = _elapsed_ms(started)
                    if item.event is not None:  # a native format that names its events
                        pending += (_EVENT, item.event.encode(), _LINE_END)
                    pending += (_DATA, item.json, _EVENT_END)
                    if not item.more:  # nothing else has arrived: send what we have now
                        yield provider_service_pb2.StreamGenerateResponse(
                            events=b"".join(pending), native=native
                        )
                        pending = []
            finally:
                guard.finished = True
                await attempts.close_stream(items)
        if end is None:
            _log.warning(
                "adapter stream ended without StreamEnd",
                extra={"request_id": invocation.request_id, "provider": invocation.provider},
            )
            end = StreamEnd(usage=Usage())
        # Chunks that came with the end of the stream travel with the accounting.
        yield provider_service_pb2.StreamGenerateResponse(
            events=b"".join(pending),
            usage=_usage(end.usage),
            timing=_timing(end.timing, first_byte_ms, _elapsed_ms(started)),
            native=native,
        )

    async def CountTokens(
        self, request: provider_service_pb2.CountTokensRequest, context: Context
    ) -> provider_service_pb2.CountTokensResponse:
        invocation = request.invocation
        with _logged(invocation):
            provider = self._runtime.get(invocation.provider)
            surface = _SURFACES.get(invocation.inbound_format)
            adapter = provider.adapter
            if surface not in native_surfaces(adapter) or not isinstance(adapter, TokenCounter):
                return provider_service_pb2.CountTokensResponse()  # no counter of its own
            call = Call(
                operation=Operation.CHAT,
                body=_parse_body(invocation.inbound_json),
                upstream_model=invocation.upstream_model,
                response_model=invocation.response_model or invocation.upstream_model,
                request_id=invocation.request_id,
                credential=provider.credential(invocation.credential_id),
                surface=surface,
                headers=dict(invocation.inbound_headers),
            )
            tokens = await adapter.count_tokens(call)
        return provider_service_pb2.CountTokensResponse(input_tokens=tokens)

    async def ListProviders(
        self, request: provider_service_pb2.ListProvidersRequest, context: Context
    ) -> provider_service_pb2.ListProvidersResponse:
        infos = [
            provider_service_pb2.ProviderInfo(
                name=provider.spec.name,
                capabilities=sorted(provider.adapter.capabilities),
                configured=provider.configured,
                base_url=provider.config.base_url,
            )
            for provider in self._runtime.providers()
        ]
        return provider_service_pb2.ListProvidersResponse(providers=infos)


_DATA = b"data: "
_EVENT = b"event: "
_LINE_END = b"\n"
_EVENT_END = b"\n\n"


def _require_embeddings(provider: Provider) -> None:
    if Capability.CAPABILITY_EMBEDDINGS not in provider.adapter.capabilities:
        raise GatewayError(
            status=grpc.StatusCode.INVALID_ARGUMENT,
            code="unsupported_operation",
            message=f"The provider {provider.spec.name!r} offers no embeddings; "
            "choose an embedding model.",
            param="model",
        )


def _refuse_untranslatable(provider: Provider, invocation: provider_service_pb2.Invocation) -> None:
    if not invocation.untranslatable:
        return
    features = ", ".join(f"'{name}'" for name in invocation.untranslatable)
    raise GatewayError(
        status=grpc.StatusCode.INVALID_ARGUMENT,
        code="unsupported_feature",
        message=f"The model {invocation.response_model or invocation.upstream_model!r} "
        f"(provider {provider.spec.name!r}) cannot honour {features} of this request; "
        "remove it or choose a model whose provider supports it.",
        param=invocation.untranslatable[0],
    )


class _StreamGuard:
    """Closes an adapter stream when its RPC ends first.

    A client cancel while the handler is suspended in `yield` (gRPC writing)
    cancels only gRPC's own code: the adapter's generator would close its
    upstream connection only when collected. The RPC's done callback closes it
    at once instead."""

    __slots__ = ("finished", "items", "tasks")

    def __init__(self, items: AsyncIterator[Chunk | StreamEnd], tasks: set[asyncio.Task[None]]):
        self.items = items
        self.tasks = tasks
        self.finished = False

    def on_rpc_done(self, _context: Context) -> None:
        if self.finished:
            return
        task = asyncio.get_running_loop().create_task(attempts.close_stream(self.items))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
