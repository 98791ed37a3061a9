"""The watch loop every follower uses, and the crash policy of background tasks: an
unexpected exception restarts a watch with its last state kept; a background task that
still dies stops its process with a failure instead of leaving it SERVING."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import grpc
import pytest

from services.kernel.errors import GatewayError
from services.kernel.hosting import ServiceHost
from services.kernel.service import Lifecycle, Service, compose_and_serve
from services.kernel.watch import Backoff, follow_forever

HANG_GUARD_S = 20.0


async def test_an_unexpected_exception_restarts_the_watch(caplog: pytest.LogCaptureFixture) -> None:
    applied: list[int] = []
    rounds = iter(
        [
            ValueError("a snapshot that cannot be applied"),
            GatewayError(grpc.StatusCode.UNAVAILABLE, "store_unavailable", "gone"),
            None,
        ]
    )
    done = asyncio.Event()

    async def once(backoff: Backoff) -> None:
        failure = next(rounds, None)
        if failure is not None:
            raise failure
        for item in (1, 2, 3):
            applied.append(item)
            backoff.reset()
        done.set()

    caplog.set_level(logging.WARNING, logger="services.kernel.watch")
    task = asyncio.create_task(
        follow_forever("test watch", once, expected=(GatewayError,), first_s=0.001, max_s=0.01)
    )
    try:
        await asyncio.wait_for(done.wait(), HANG_GUARD_S)
    finally:
        task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert applied == [1, 2, 3]
    messages = [record.getMessage() for record in caplog.records]
    assert "test watch failed unexpectedly; restarting it with the last state kept" in messages
    assert "test watch interrupted (store_unavailable); reconnecting" in messages
    unexpected = next(r for r in caplog.records if "unexpectedly" in r.getMessage())
    assert unexpected.exc_info is not None  # the traceback is logged, not swallowed


async def test_backoff_doubles_to_its_cap_and_resets() -> None:
    backoff = Backoff(0.001, 0.003)
    delays = []
    for _ in range(4):
        delays.append(backoff.delay_s)
        await backoff.wait()
    assert delays == [0.001, 0.002, 0.003, 0.003]
    backoff.reset()
    assert backoff.delay_s == 0.001


@dataclass(frozen=True)
class _Config:
    log_level: str = "INFO"


async def test_a_dead_background_task_stops_the_process_with_a_failure() -> None:
    host_seen: list[ServiceHost] = []

    async def compose(_config: _Config, life: Lifecycle) -> Service:
        host = ServiceHost("crashy")
        host_seen.append(host)

        async def dies() -> None:
            await asyncio.sleep(0)
            raise KeyError("lost its state")

        life.spawn(dies(), "key watch")
        return Service(host, "127.0.0.1:0", grace_seconds=0.0)

    # compose_and_serve sets up the process's logging; the rest of the session keeps its own.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        with pytest.raises(RuntimeError, match="background task 'key watch' died"):
            await asyncio.wait_for(compose_and_serve("crashy", _Config(), compose), HANG_GUARD_S)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    assert host_seen


async def test_cancelled_background_tasks_at_the_drain_are_no_failure() -> None:
    life = Lifecycle()
    failures: list[BaseException] = []
    life.on_crash(failures.append)
    life.spawn(asyncio.Event().wait(), "waits forever")
    await life.close()
    assert failures == []
