"""No usage event is lost when the metrics service is SIGKILLed under load, nor
when its PostgreSQL goes away and comes back."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import pathlib
import signal
import sys
from collections.abc import AsyncIterator

import grpc
import pytest
import sqlalchemy as sa
from agentopia.v1 import metrics_service_pb2 as pb
from prometheus_client import CollectorRegistry

from metrics.client import UsageRecorder
from services.kernel.channels import wait_until_serving
from tests.metrics.conftest import config_for, empty_pg, serving
from tests.metrics.tcp_proxy import TcpProxy
from tests.metrics.workload import workload
from tests.support.backing import postgres_address, postgres_url
from tests.support.identity import identity

START = dt.datetime(2026, 7, 1, tzinfo=dt.UTC)
ROOT = pathlib.Path(__file__).resolve().parents[2]


async def start_process(data: pathlib.Path, target: str) -> asyncio.subprocess.Process:
    """`python -m metrics` listening on `target` (a Unix socket: a restart gets the
    same address back, and no other process can take it meanwhile)."""
    port_file = data / "port"
    port_file.unlink(missing_ok=True)
    env = {
        **os.environ,
        "AGENTOPIA_DATA_DIR": str(data),
        "AGENTOPIA_METRICS_LISTEN": target,
        "AGENTOPIA_PORT_FILE": str(port_file),
        "AGENTOPIA_PROMETHEUS_PORT": "0",
        "AGENTOPIA_LOG_LEVEL": "WARNING",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "metrics",
        cwd=ROOT,
        env=env,
    )
    while not port_file.exists():  # written by ServiceHost once bound; bounded by the test timeout
        assert process.returncode is None, "metrics service exited during start-up"
        await asyncio.sleep(0.05)
    async with grpc.aio.insecure_channel(target) as channel:
        await wait_until_serving(channel, interval_s=0.05)
    return process


async def produce(recorder: UsageRecorder, events: list[pb.UsageEvent]) -> None:
    for n, event in enumerate(events):
        recorder.record(event)
        if n % 50 == 49:
            await asyncio.sleep(0.005)


def stored_counts(url: str) -> tuple[int, int, int]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        events, distinct = connection.execute(
            sa.text("SELECT COUNT(*), COUNT(DISTINCT event_id) FROM usage_events")
        ).one()
        rollup = connection.execute(sa.text("SELECT SUM(requests) FROM usage_minute")).scalar()
    engine.dispose()
    return int(events), int(distinct), int(rollup or 0)


async def test_sigkill_under_load_loses_no_event(tmp_path: pathlib.Path) -> None:
    events = workload(3000, START, dt.timedelta(minutes=30), seed=11)
    target = f"unix:{tmp_path / 'metrics.sock'}"
    process = await start_process(tmp_path, target)
    recorder = UsageRecorder(
        target,
        max_batch=50,
        flush_interval=0.02,
        backoff_initial=0.02,
        backoff_max=0.3,
    )
    try:
        await produce(recorder, events[:1500])
        while recorder.stats.sent < 500:  # under load, part of it acknowledged
            await asyncio.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        assert await process.wait() == -signal.SIGKILL
        failures = recorder.stats.send_failures
        await produce(recorder, events[1500:2500])
        while recorder.stats.send_failures == failures:  # the sender noticed the outage
            await asyncio.sleep(0.01)
        process = await start_process(tmp_path, target)
        await produce(recorder, events[2500:])
        await recorder.flush()
        assert await recorder.aclose() == 0
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await process.wait()
    assert recorder.stats.dropped_buffer_full == recorder.stats.dropped_shutdown == 0
    assert stored_counts(f"sqlite:///{tmp_path}/metrics.db") == (3000, 3000, 3000)


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    proxy = TcpProxy(*postgres_address())
    await proxy.start()
    yield proxy
    await proxy.close()


@pytest.mark.postgres
async def test_postgres_outage_under_load_loses_no_event(pg_schema: str, proxy: TcpProxy) -> None:
    empty_pg(pg_schema)
    app = f"metrics-outage-{os.getpid()}"
    url = (
        f"{postgres_url(f'127.0.0.1:{proxy.port}')}?connect_timeout=2"
        f"&options=-csearch_path%3D{pg_schema}&application_name={app}"
    )
    events = workload(2000, START, dt.timedelta(minutes=20), seed=12)
    admin = sa.create_engine(postgres_url())
    async with serving(config_for(url), CollectorRegistry()) as port:
        recorder = UsageRecorder(
            f"127.0.0.1:{port}",
            max_batch=40,
            flush_interval=0.02,
            backoff_initial=0.02,
            backoff_max=0.3,
            identity=identity("router"),  # the metrics service takes routers' usage only
        )
        try:
            await produce(recorder, events[:600])
            while recorder.stats.sent < 200:
                await asyncio.sleep(0.01)
            # 1. The server goes away: every connection dropped, new ones refused.
            await proxy.cut()
            failures = recorder.stats.send_failures
            await produce(recorder, events[600:1200])
            while recorder.stats.send_failures == failures:
                await asyncio.sleep(0.01)
            proxy.restore()  # ...and comes back on the same address.
            await produce(recorder, events[1200:1600])
            while recorder.stats.sent < 1200:
                await asyncio.sleep(0.01)
            # 2. Its backends are terminated under load (as a restart does).
            assert terminate_backends(admin, app)
            await produce(recorder, events[1600:])
            await recorder.flush()
            assert await recorder.aclose() == 0
        finally:
            admin.dispose()
    assert recorder.stats.send_failures > failures
    assert stored_counts(empty_pg_url(pg_schema)) == (2000, 2000, 2000)


def terminate_backends(admin: sa.Engine, app: str) -> int:
    with admin.begin() as connection:
        killed = connection.execute(
            sa.text(
                "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = :app"
            ),
            {"app": app},
        ).scalar()
    return int(killed or 0)


def empty_pg_url(schema: str) -> str:
    return f"{postgres_url()}?options=-csearch_path%3D{schema}"
