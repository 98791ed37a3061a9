"""Composition root of the metrics service: config, database (migrated when
embedded), servicer, live hub, Prometheus exposition, lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from agentopia.v1 import metrics_service_pb2_grpc as pb_grpc
from prometheus_client import REGISTRY, CollectorRegistry

from keyvault.client.keycache import KeyCache
from metrics.client import pricing
from metrics.config import MetricsConfig
from metrics.exposition import MetricsServiceInstruments, start_exposition
from metrics.live import LiveHub
from metrics.servicer import MetricsServicer
from metrics.storage import db
from metrics.storage.reports import UsageReports
from metrics.storage.store import UsageStore
from services.kernel import tracing
from services.kernel.channels import open_channel
from services.kernel.entry import run_service
from services.kernel.hosting import ServiceHost
from services.kernel.logs import configure_logging

__all__ = ["SERVICE_NAME", "MetricsHost", "Service", "build", "main", "serve"]

SERVICE_NAME = "agentopia.v1.MetricsService"
_log = logging.getLogger(__name__)


class MetricsHost(ServiceHost):
    """ServiceHost that ends the (endless) live streams first when it stops, so
    the drain waits only for in-flight RecordUsage and report calls."""

    def __init__(self, live: LiveHub) -> None:
        super().__init__("metrics")
        self._live = live

    async def stop(self, grace_seconds: float) -> None:
        self._live.close()
        await super().stop(grace_seconds)


async def _prepare_database(config: MetricsConfig) -> UsageStore:
    engine = db.create_engine(config.database_url)
    if config.migrate == "auto":
        await asyncio.to_thread(db.migrate, engine)
    else:
        current = await asyncio.to_thread(db.current_revision, engine)
        if current != db.head_revision():
            raise RuntimeError(
                f"metrics database is at revision {current}, code needs {db.head_revision()}: "
                "run the migrations (AGENTOPIA_METRICS_MIGRATE=auto) first"
            )
    return UsageStore(engine)


@dataclass
class Service:
    """The composed service, not yet started: `host.run(...)` or, in tests,
    `host.start(address)`, `ready()`, `host.mark_serving()` ... `host.stop()`, `cleanup()`."""

    host: MetricsHost
    servicer: MetricsServicer
    store: UsageStore
    live: LiveHub
    table: pricing.PriceTable
    prometheus_port: int = 0
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _closers: list[Callable[[], None]] = field(default_factory=list)

    async def ready(self) -> None:
        """Dependencies are up: the database answers. Starts the live ticker."""
        await asyncio.to_thread(self.store.ping)
        if not any(task.get_name() == "live" for task in self._tasks):
            self._tasks.append(asyncio.create_task(self.live.run(), name="live"))

    async def cleanup(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for close in self._closers:
            close()
        self.store.engine.dispose()


async def build(config: MetricsConfig, *, registry: CollectorRegistry = REGISTRY) -> Service:
    """Open (and, when embedded, migrate) the database and wire the servicer."""
    table = pricing.default_table()
    store = await _prepare_database(config)
    live = LiveHub(health_ttl_s=config.health_ttl_s)
    keys = KeyCache() if config.keyvault_target else None
    servicer = MetricsServicer(
        keys=keys,
        store=store,
        reports=UsageReports(store.engine),
        live=live,
        instruments=MetricsServiceInstruments(registry),
        table=table,
    )
    host = MetricsHost(live)
    host.add(SERVICE_NAME, lambda srv: pb_grpc.add_MetricsServiceServicer_to_server(servicer, srv))
    service = Service(host=host, servicer=servicer, store=store, live=live, table=table)
    if keys is not None:
        # Never part of readiness: ingest must work while the key vault is away;
        # reports answer "retry shortly" until the first key snapshot arrives.
        channel = open_channel(config.keyvault_target)
        service._tasks.append(
            asyncio.create_task(keys.follow(channel, watcher=f"metrics@{socket.gethostname()}"))
        )
    if config.prometheus_port:
        exposition = start_exposition(
            config.prometheus_port, addr=config.prometheus_addr, registry=registry
        )
        service.prometheus_port = exposition.port
        service._closers.append(exposition.close)
        _log.info("metrics: Prometheus /metrics on port %d", exposition.port)
    _log.info("metrics: price table %s, database %s", table.version, store.dialect)
    return service


async def serve(config: MetricsConfig) -> None:
    service = await build(config)
    await service.host.run(
        config.listen, ready=service.ready, cleanup=service.cleanup, grace_seconds=config.grace_s
    )


async def _main() -> None:
    config = MetricsConfig.from_env()
    configure_logging("metrics", config.log_level)
    provider = tracing.configure_tracing("metrics")
    try:
        await serve(config)
    finally:
        tracing.shutdown_tracing(provider)


def main() -> None:
    run_service("metrics", _main)
