"""Call a grpc.aio servicer in the same process through its generated stub.

The `colocated` topology hosts the router and the provider service in one
process; the router keeps calling the ProviderService *contract* through
`ProviderServiceStub`, but over this channel instead of the loopback: no
serialisation, no HTTP/2 framing, no poller hop. Register servicers with the
generated `add_XServicer_to_server(servicer, channel)` (the channel stands in
for the server), then build stubs on the same channel.

Semantics kept from a real channel: `timeout=` is a deadline (DEADLINE_EXCEEDED),
`context.time_remaining()` and `invocation_metadata()` work, a servicer's
`GatewayError` or `context.abort(...)` reaches the caller as
`grpc.aio.AioRpcError` with the same trailing metadata (so
`GatewayError.from_rpc_error` rebuilds it), `call.cancel()` closes the servicer's
generator, and `context.add_done_callback` fires when the call ends. Messages are
handed over by reference: neither side may mutate them afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import grpc

from services.kernel.channels import EOF
from services.kernel.errors import GatewayError
from services.kernel.interceptor import internal_error

__all__ = ["InProcessChannel"]

_log = logging.getLogger(__name__)

Metadata = Sequence[tuple[str, str | bytes]]


class _Abort(Exception):
    """Raised by the in-process context's abort(); carries the status to the caller."""

    def __init__(self, code: grpc.StatusCode, details: str, trailing: Metadata) -> None:
        super().__init__(details)
        self.code, self.details, self.trailing = code, details, tuple(trailing)


def _rpc_error(
    code: grpc.StatusCode, details: str, trailing: Metadata = ()
) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(
        code, grpc.aio.Metadata(), grpc.aio.Metadata(*trailing), details, None
    )


def _as_rpc_error(exc: BaseException, method: str) -> grpc.aio.AioRpcError:
    if isinstance(exc, _Abort):
        return _rpc_error(exc.code, exc.details, exc.trailing)
    if isinstance(exc, GatewayError):
        return _rpc_error(exc.status, exc.message, exc.trailing_metadata())
    if isinstance(exc, TimeoutError):
        return _rpc_error(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")
    _log.error("in-process call %s failed unexpectedly", method, exc_info=exc)
    error = internal_error("in-process")
    return _rpc_error(error.status, error.message, error.trailing_metadata())


class _Context:
    """The part of `grpc.aio.ServicerContext` that servicers use."""

    def __init__(self, metadata: Metadata, deadline: float | None) -> None:
        self._metadata = tuple(metadata)
        self._deadline = deadline
        self._callbacks: list[Callable[[Any], object]] = []
        self._cancelled = False

    def invocation_metadata(self) -> Metadata:
        return self._metadata

    def time_remaining(self) -> float | None:
        return None if self._deadline is None else max(0.0, self._deadline - time.monotonic())

    async def abort(
        self, code: grpc.StatusCode, details: str = "", trailing_metadata: Metadata = ()
    ) -> None:
        raise _Abort(code, details, trailing_metadata)

    async def send_initial_metadata(self, metadata: Metadata) -> None:
        return None

    def set_trailing_metadata(self, metadata: Metadata) -> None:
        return None

    def add_done_callback(self, callback: Callable[[Any], object]) -> None:
        self._callbacks.append(callback)

    def cancelled(self) -> bool:
        return self._cancelled

    def done(self, *, cancelled: bool = False) -> None:
        self._cancelled = cancelled
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback(self)
            except Exception:
                _log.exception("done callback failed")


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


class _Call:
    """One call: the servicer's behavior started with its in-process context."""

    def __init__(
        self,
        behavior: Callable[..., Any],
        method: str,
        request: Any,
        timeout: float | None,
        metadata: Metadata,
    ) -> None:
        self._context = _Context(metadata, _deadline(timeout))
        self._timeout = timeout
        self._method = method
        self._running: Any = behavior(request, self._context)


class _UnaryCall(_Call):
    """What `stub.Method(request, timeout=...)` returns: awaitable once."""

    def __await__(self) -> Any:
        return self._run().__await__()

    async def _run(self) -> Any:
        cancelled = False
        try:
            async with asyncio.timeout(self._timeout):
                return await self._running
        except asyncio.CancelledError:
            cancelled = True
            raise
        except Exception as exc:
            raise _as_rpc_error(exc, self._method) from None
        finally:
            self._context.done(cancelled=cancelled)


class _StreamCall(_Call):
    """What `stub.StreamMethod(request, timeout=...)` returns: read() or async-iterate."""

    _finished = False

    async def read(self) -> Any:
        if self._finished:
            return EOF
        remaining = self._context.time_remaining()
        try:
            async with asyncio.timeout(remaining):
                return await anext(self._running)
        except StopAsyncIteration:
            self._finish(cancelled=False)
            return EOF
        except asyncio.CancelledError:
            self.cancel()
            raise
        except Exception as exc:
            self._finish(cancelled=False)
            raise _as_rpc_error(exc, self._method) from None

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        while True:
            message = await self.read()
            if message is EOF:
                return
            yield message

    def cancel(self) -> bool:
        if self._finished:
            return False
        self._finish(cancelled=True)
        closing = getattr(self._running, "aclose", None)
        if closing is not None:
            task = asyncio.get_running_loop().create_task(closing())
            task.add_done_callback(_ignore_result)
        return True

    def done(self) -> bool:
        return self._finished

    def _finish(self, *, cancelled: bool) -> None:
        if not self._finished:
            self._finished = True
            self._context.done(cancelled=cancelled)


def _ignore_result(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        with contextlib.suppress(BaseException):
            task.result()


class _MultiCallable:
    def __init__(
        self,
        call_type: type[_Call],
        behavior: Callable[..., Any],
        method: str,
    ) -> None:
        self._call_type, self._behavior, self._method = call_type, behavior, method

    def __call__(
        self,
        request: Any,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
        **_: Any,
    ) -> Any:
        return self._call_type(self._behavior, self._method, request, timeout, metadata or ())


class InProcessChannel:
    """A channel and a server at once, for servicers living in this process."""

    def __init__(self) -> None:
        self._handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}

    # --- the server side, as generated `add_XServicer_to_server` calls it
    def add_generic_rpc_handlers(self, handlers: Sequence[Any]) -> None:
        return None  # the registered-method form below carries the same handlers

    def add_registered_method_handlers(
        self, service: str, handlers: Mapping[str, grpc.RpcMethodHandler[Any, Any]]
    ) -> None:
        for name, handler in handlers.items():
            self._handlers[f"/{service}/{name}"] = handler

    # --- the channel side, as generated stubs call it
    def unary_unary(self, method: str, *_: Any, **__: Any) -> _MultiCallable:
        handler = self._handler(method)
        assert handler.unary_unary is not None, f"{method} is not unary"
        return _MultiCallable(_UnaryCall, handler.unary_unary, method)

    def unary_stream(self, method: str, *_: Any, **__: Any) -> _MultiCallable:
        handler = self._handler(method)
        assert handler.unary_stream is not None, f"{method} is not server-streaming"
        return _MultiCallable(_StreamCall, handler.unary_stream, method)

    def _handler(self, method: str) -> grpc.RpcMethodHandler[Any, Any]:
        try:
            return self._handlers[method]
        except KeyError:
            raise LookupError(f"no in-process servicer registered for {method}") from None

    async def close(self, grace: float | None = None) -> None:
        return None
