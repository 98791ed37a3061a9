"""The one place where exceptions become gRPC statuses, for every service.

A servicer raises `GatewayError` (or lets anything else escape); this interceptor
ends the RPC with the error's status, its `google.rpc.Status` details and whatever
extra trailing metadata the service renders (the router adds the OpenAI-shaped
body for the edge). Any other exception is logged with its traceback and becomes
INTERNAL carrying the call's real request id, so a user can quote it.

Wrapped handlers are built once per method and cached: the interceptor costs a
dictionary look-up per call and one generator hop per streamed message. Internal
methods also check the caller's workload identity (`services.kernel.identity`)
before the servicer runs; its refusal becomes a status like any other error.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import grpc

from services.kernel.errors import GatewayError
from services.kernel.identity import PeerCheck

__all__ = [
    "ErrorInterceptor",
    "MetadataRenderer",
    "internal_error",
    "request_id_of",
]

_log = logging.getLogger(__name__)

# Renders the trailing metadata of an error for one RPC method (its full name,
# `/package.Service/Method`): services add surface-specific metadata here.
MetadataRenderer = Callable[[GatewayError, str], Sequence[tuple[str, str | bytes]]]
_Context = grpc.aio.ServicerContext[Any, Any]
_MAX_REQUEST_ID = 128


def request_id_of(context: _Context) -> str:
    """The caller's `x-request-id` (the edge sets one for every request), else a new one."""
    for key, value in context.invocation_metadata() or ():
        if key == "x-request-id" and isinstance(value, str) and 0 < len(value) <= _MAX_REQUEST_ID:
            return value
    return secrets.token_hex(8)


def internal_error(request_id: str) -> GatewayError:
    return GatewayError(
        grpc.StatusCode.INTERNAL,
        "internal_error",
        f"The gateway failed unexpectedly; quote request id {request_id} when reporting it.",
        metadata={"request_id": request_id},
    )


def _no_check(method: str) -> PeerCheck | None:
    return None


def _default_render(error: GatewayError, method: str) -> Sequence[tuple[str, str | bytes]]:
    return error.trailing_metadata()


class ErrorInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """Maps `GatewayError` to its status and anything else to INTERNAL, once per call."""

    def __init__(
        self,
        service: str,
        render: MetadataRenderer | None = None,
        checks: Callable[[str], PeerCheck | None] | None = None,
    ) -> None:
        self._service = service
        self._render = render or _default_render
        # Method -> its caller check (internal methods only), asked once per method
        # when its handler is first wrapped.
        self._checks = checks or _no_check
        self._cache: dict[str, grpc.RpcMethodHandler[Any, Any] | None] = {}

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        method: str = handler_call_details.method
        if method in self._cache:
            cached = self._cache[method]
            if cached is not None:
                return cached
        handler = await continuation(handler_call_details)
        wrapped = self._wrap(method, handler) if handler is not None else None
        self._cache[method] = wrapped
        return wrapped if wrapped is not None else handler

    def _wrap(
        self, method: str, handler: grpc.RpcMethodHandler[Any, Any]
    ) -> grpc.RpcMethodHandler[Any, Any]:
        fail = self._failer(method)
        check = self._checks(method)
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                _unary(handler.unary_unary, fail, check),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                _streaming(handler.unary_stream, fail, check),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(
                _unary(handler.stream_unary, fail, check),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        assert handler.stream_stream is not None  # one of the four is always set
        return grpc.stream_stream_rpc_method_handler(
            _streaming(handler.stream_stream, fail, check),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _failer(self, method: str) -> Callable[[BaseException, _Context], Awaitable[None]]:
        async def fail(exc: BaseException, context: _Context) -> None:
            if isinstance(exc, GatewayError):
                error = exc
            else:
                request_id = request_id_of(context)
                _log.error(
                    "%s %s failed unexpectedly (request %s)",
                    self._service,
                    method,
                    request_id,
                    exc_info=exc,
                    extra={"rpc.method": method, "request_id": request_id},
                )
                error = internal_error(request_id)
            await context.abort(error.status, error.message, tuple(self._render(error, method)))

        return fail


_Fail = Callable[[BaseException, _Context], Awaitable[None]]


def _passes_through(exc: BaseException) -> bool:
    # context.abort raises grpc's own AbortError; cancellation must stay cancellation.
    return isinstance(exc, asyncio.CancelledError | grpc.aio.AbortError)


def _unary(
    behavior: Callable[..., Any], fail: _Fail, check: PeerCheck | None = None
) -> Callable[..., Any]:
    async def call(request: Any, context: _Context) -> Any:
        try:
            if check is not None:
                check(context)
            return await behavior(request, context)
        except Exception as exc:
            if _passes_through(exc):
                raise
            await fail(exc, context)
            raise  # pragma: no cover (abort raises)

    return call


def _streaming(
    behavior: Callable[..., Any], fail: _Fail, check: PeerCheck | None = None
) -> Callable[..., Any]:
    async def call(request: Any, context: _Context) -> AsyncIterator[Any]:
        try:
            if check is not None:
                check(context)
            result = behavior(request, context)
            if hasattr(result, "__aiter__"):
                async for item in result:
                    yield item
            else:  # a servicer that writes with context.write() and returns
                await result
        except Exception as exc:
            if _passes_through(exc):
                raise
            await fail(exc, context)
            raise  # pragma: no cover (abort raises)

    return call
