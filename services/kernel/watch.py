"""Following a stream of snapshots forever: the one reconnect loop every watcher uses
(client keys, provider keys, routing configuration, the provider list).

A watcher whose source fails reconnects with capped, reset-on-progress backoff. An
unexpected exception (a snapshot that cannot be applied, a bug) is logged with its
traceback and the watch starts again, keeping the last good state: a watch that died
quietly would leave a process serving stale keys — revoked ones included — with its
health still green.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import grpc

from services.kernel.errors import GatewayError

__all__ = ["Backoff", "follow_forever"]

_log = logging.getLogger(__name__)


class Backoff:
    """Capped exponential backoff; `reset()` after each sign of progress."""

    def __init__(self, first_s: float, max_s: float) -> None:
        self._first_s = first_s
        self._max_s = max_s
        self.delay_s = first_s

    def reset(self) -> None:
        self.delay_s = self._first_s

    async def wait(self) -> None:
        await asyncio.sleep(self.delay_s)
        self.delay_s = min(self.delay_s * 2, self._max_s)


async def follow_forever(
    what: str,
    follow_once: Callable[[Backoff], Awaitable[None]],
    *,
    expected: tuple[type[Exception], ...],
    first_s: float = 0.1,
    max_s: float = 1.0,
) -> None:
    """Run `follow_once(backoff)` until cancelled. It returns or raises one of
    `expected` when its source ends (logged as a warning, then a reconnect); it
    calls `backoff.reset()` whenever it applied something."""
    backoff = Backoff(first_s, max_s)
    while True:
        try:
            await follow_once(backoff)
        except expected as error:
            _log.warning("%s interrupted (%s); reconnecting", what, _describe(error))
        except Exception:
            _log.exception("%s failed unexpectedly; restarting it with the last state kept", what)
        await backoff.wait()


def _describe(error: Exception) -> str:
    if isinstance(error, grpc.aio.AioRpcError):
        return error.code().name
    if isinstance(error, GatewayError):
        return error.code
    return type(error).__name__
