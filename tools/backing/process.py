"""One server child process: started in its own session, awaited until ready, stopped."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["BackingServiceError", "on_a_free_port", "running"]

# Another program may take a free port between our choosing it and the server binding it.
_PORT_ATTEMPTS = 3

_READY_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 30.0
_POLL_S = 0.1


class BackingServiceError(RuntimeError):
    """A throw-away server could not be started; the message names its log."""


@contextlib.contextmanager
def running(
    argv: list[str],
    *,
    name: str,
    log: Path,
    ready: Callable[[], bool],
    stop_signal: signal.Signals,
    user: str | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Runs argv until the block ends; yields once ready() is true."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, user=user
        )
    try:
        _await_ready(process, ready, f"{name} (log: {log})")
        yield process
    finally:
        _stop(process, stop_signal)


def on_a_free_port(
    stack: contextlib.ExitStack,
    free_port: Callable[[], int],
    server: Callable[[int], contextlib.AbstractContextManager[object]],
) -> int:
    """Enter `server(port)` on `stack` on a free port, trying another port when the
    server cannot start on the one chosen; the port it runs on."""
    for attempt in range(1, _PORT_ATTEMPTS + 1):
        port = free_port()
        try:
            stack.enter_context(server(port))
        except BackingServiceError:
            if attempt == _PORT_ATTEMPTS:
                raise
            continue
        return port
    raise BackingServiceError("unreachable")


def _await_ready(process: subprocess.Popen[bytes], ready: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while not ready():
        if process.poll() is not None:
            raise BackingServiceError(f"{what} exited with status {process.returncode}")
        if time.monotonic() > deadline:
            raise BackingServiceError(f"{what} not ready after {_READY_TIMEOUT_S:.0f} s")
        time.sleep(_POLL_S)


def _stop(process: subprocess.Popen[bytes], stop_signal: signal.Signals) -> None:
    if process.poll() is not None:
        return
    process.send_signal(stop_signal)
    try:
        process.wait(_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
