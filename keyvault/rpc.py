"""The one place servicer methods are wrapped: authorisation by the declared access, then
GatewayError -> google.rpc.Status. Unexpected errors are logged by type only (their text
could quote data) and answered with a generic INTERNAL."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, Protocol, TypeVar

import grpc

from keyvault.access import Access, Guard
from keyvault.records import Actor
from services.kernel.errors import GatewayError

__all__ = ["Guarded", "access_of", "stream", "unary"]

_log = logging.getLogger(__name__)

Ctx = grpc.aio.ServicerContext[Any, Any]
Req = TypeVar("Req")
Resp = TypeVar("Resp")


class Guarded(Protocol):
    guard: Guard


S = TypeVar("S", bound=Guarded)


def _internal(method: str, error: Exception) -> GatewayError:
    _log.error("%s failed: %s", method, type(error).__name__, extra={"rpc.method": method})
    return GatewayError(
        grpc.StatusCode.INTERNAL, "internal_error", "The key vault failed; retry, then report it."
    )


def access_of(method: object) -> Access | None:
    value = getattr(method, "__access__", None)
    return value if isinstance(value, Access) else None


def unary(
    access: Access,
) -> Callable[
    [Callable[[S, Req, Ctx, Actor], Awaitable[Resp]]],
    Callable[[S, Req, Ctx], Coroutine[Any, Any, Resp]],
]:
    def decorate(
        fn: Callable[[S, Req, Ctx, Actor], Awaitable[Resp]],
    ) -> Callable[[S, Req, Ctx], Coroutine[Any, Any, Resp]]:
        @functools.wraps(fn)
        async def wrapper(self: S, request: Req, context: Ctx) -> Resp:
            try:
                actor = self.guard.check(context.invocation_metadata(), access)
                return await fn(self, request, context, actor)
            except GatewayError as error:
                await error.abort(context)
            except Exception as error:
                await _internal(fn.__name__, error).abort(context)

        wrapper.__access__ = access  # type: ignore[attr-defined]
        return wrapper

    return decorate


def stream(
    access: Access,
) -> Callable[
    [Callable[[S, Req, Ctx, Actor], AsyncIterator[Resp]]],
    Callable[[S, Req, Ctx], AsyncIterator[Resp]],
]:
    def decorate(
        fn: Callable[[S, Req, Ctx, Actor], AsyncIterator[Resp]],
    ) -> Callable[[S, Req, Ctx], AsyncIterator[Resp]]:
        @functools.wraps(fn)
        async def wrapper(self: S, request: Req, context: Ctx) -> AsyncIterator[Resp]:
            try:
                actor = self.guard.check(context.invocation_metadata(), access)
                async for item in fn(self, request, context, actor):
                    yield item
            except GatewayError as error:
                await error.abort(context)
            except Exception as error:
                await _internal(fn.__name__, error).abort(context)

        wrapper.__access__ = access  # type: ignore[attr-defined]
        return wrapper

    return decorate
