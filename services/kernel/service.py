"""The skeleton every service is built on: one entry point, one composition shape.

A service provides two things:

    class RouterConfig:                       # config.py: frozen, read once
        log_level: str
        @classmethod
        def from_env(cls) -> RouterConfig: ...   # raises ConfigError naming the variable

    async def compose(config: RouterConfig, life: Lifecycle) -> Service:   # server.py
        host = ServiceHost("router", ...)
        host.add(...)                          # servicers
        life.spawn(keys.follow(...), "key watch")   # background tasks, cancelled at drain
        life.on_close(channel.close)           # closed after the drain, in reverse order
        return Service(host, config.listen, ready=..., grace_seconds=...)

and its `__main__.py` is one line: `run("router", RouterConfig.from_env, compose)`.

`run` turns a configuration error — raised while reading the environment or while
composing (a malformed models file, say) — into one line on stderr and exit
status 2, sets up logging and tracing the same way for everyone, serves until
SIGTERM/SIGINT, drains, cancels background tasks and closes what was registered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from services.kernel.config import ConfigError, env_str
from services.kernel.hosting import ServiceHost
from services.kernel.logs import configure_logging
from services.kernel.tracing import configure_tracing, shutdown_tracing

__all__ = ["Lifecycle", "Service", "ServiceConfig", "compose_and_serve", "run"]

_log = logging.getLogger(__name__)


class ServiceConfig(Protocol):
    @property
    def log_level(self) -> str: ...


C = TypeVar("C", bound=ServiceConfig)
Compose = Callable[[C, "Lifecycle"], Awaitable["Service"]]


@dataclass
class Service:
    """What `compose` hands back: the host, where it listens, and when it is ready."""

    host: ServiceHost
    listen: str
    ready: Callable[[], Awaitable[None]] | None = None
    grace_seconds: float = 10.0


class Lifecycle:
    """Collects a service's background tasks and closers while it is composed."""

    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[Any]] = []
        self._closers: list[Callable[[], Awaitable[object] | object]] = []
        self._closed = False
        self._on_crash: Callable[[BaseException], None] | None = None
        self._crash: BaseException | None = None

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run `coro` until the drain. Background tasks are meant to run for the
        process's life (the watches retry on their own); one that ends with an
        exception is logged and stops the process with a failure (`on_crash`)."""
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._crashed)
        self._tasks.append(task)
        return task

    def on_crash(self, handler: Callable[[BaseException], None]) -> None:
        """Where a crash goes (a crash while composing is delivered here at once)."""
        self._on_crash = handler
        if self._crash is not None:
            handler(self._crash)

    def _crashed(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled() or task.exception() is None or self._closed:
            return
        failure = task.exception()
        assert failure is not None
        _log.error("background task %s died; stopping", task.get_name(), exc_info=failure)
        self._crash = RuntimeError(f"background task {task.get_name()!r} died: {failure!r}")
        if self._on_crash is not None:
            self._on_crash(self._crash)

    def on_close(self, closer: Callable[[], Awaitable[object] | object]) -> None:
        """Call `closer` after the drain (closers run in reverse order of registration)."""
        self._closers.append(closer)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for closer in reversed(self._closers):
            try:
                outcome = closer()
                if isinstance(outcome, Awaitable):
                    await outcome
            except Exception:
                _log.exception("closing %r failed", closer)


async def compose_and_serve(name: str, config: C, compose: Compose[C]) -> None:
    """Compose the service and serve it until a stop signal (tests call this in-process)."""
    configure_logging(name, config.log_level)
    tracer_provider = configure_tracing(f"agentopia-{name}")
    life = Lifecycle()
    try:
        service = await compose(config, life)
        life.on_crash(service.host.fail)
        await service.host.run(
            service.listen,
            ready=service.ready,
            cleanup=life.close,
            grace_seconds=service.grace_seconds,
        )
    finally:
        await life.close()
        shutdown_tracing(tracer_provider)


def _run_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop (libuv's loop: measurably less CPU per gRPC call and socket
    event than the stock loop, and grpc.aio supports it), unless
    AGENTOPIA_EVENT_LOOP=asyncio asks for the standard library's."""
    choice = env_str("AGENTOPIA_EVENT_LOOP", "uvloop")
    if choice == "asyncio":
        asyncio.run(main)
    elif choice == "uvloop":
        import uvloop  # noqa: PLC0415 (only the chosen loop is loaded)

        uvloop.run(main)
    else:
        main.close()
        raise ConfigError(f"AGENTOPIA_EVENT_LOOP must be uvloop or asyncio, got {choice!r}")


def run(
    name: str,
    load_config: Callable[[], C],
    compose: Compose[C],
    *,
    commands: Mapping[str, Callable[[C], int]] | None = None,
    argv: Sequence[str] | None = None,
) -> None:
    """The `python -m <service> [command]` entry point of every service."""
    args = list(sys.argv[1:] if argv is None else argv)
    known = dict(commands or {})
    if args and (len(args) > 1 or args[0] not in known):
        choices = "|".join(known) or "no arguments"
        print(f"{name}: usage: python -m <{name}> [{choices}]", file=sys.stderr)  # noqa: T201
        raise SystemExit(2)
    try:
        config = load_config()
        if args:
            raise SystemExit(known[args[0]](config))
        _run_loop(compose_and_serve(name, config, compose))
    except ConfigError as error:
        print(f"{name}: configuration error: {error}", file=sys.stderr)  # noqa: T201
        raise SystemExit(2) from None
    except KeyboardInterrupt:  # a second Ctrl-C during the drain
        raise SystemExit(130) from None
