"""Composition root of the metrics service: database (migrated when embedded),
servicer, live hub, key-table follower, Prometheus exposition."""

from __future__ import annotations

import asyncio
import logging
import socket

from agentopia.v1 import metrics_service_pb2_grpc as pb_grpc
from prometheus_client import REGISTRY, CollectorRegistry

from keyvault.client.keycache import KeyCache
from metrics.client import pricing
from metrics.config import MetricsConfig
from metrics.instruments import MetricsServiceInstruments
from metrics.live import LiveHub
from metrics.servicer import MetricsServicer
from metrics.storage import db
from metrics.storage.reports import UsageReports
from metrics.storage.store import UsageStore
from services.kernel.channels import open_channel
from services.kernel.config import ConfigError
from services.kernel.exposition import start_settings
from services.kernel.hosting import ServiceHost
from services.kernel.identity import IdentitySettings
from services.kernel.logs import configure_logging
from services.kernel.service import Lifecycle, Service

__all__ = ["SERVICE_NAME", "MetricsHost", "compose", "migrate_schema", "open_store"]

SERVICE_NAME = "agentopia.v1.MetricsService"
_log = logging.getLogger(__name__)


class MetricsHost(ServiceHost):
    """ServiceHost that ends the (endless) live streams first when it stops, so
    the drain waits only for in-flight RecordUsage and report calls."""

    def __init__(self, live: LiveHub, identity: IdentitySettings | None = None) -> None:
        super().__init__("metrics", identity=identity)
        self._live = live

    async def stop(self, grace_seconds: float) -> None:
        self._live.close()
        await super().stop(grace_seconds)


async def compose(
    config: MetricsConfig,
    life: Lifecycle,
    *,
    registry: CollectorRegistry = REGISTRY,
    keys: KeyCache | None = None,
) -> Service:
    """Open (and, when embedded, migrate) the database and wire the servicer.

    `keys` stands in for the key table followed from the key vault (tests push
    their own snapshot into it); without one, `config.keyvault_target` is followed.
    """
    exposition = start_settings(config.exposition, registry=registry)
    if exposition is not None:
        life.on_close(exposition.close)
        _log.info("metrics: Prometheus /metrics on port %d", exposition.port)
    table = pricing.default_table()
    store = await open_store(config)
    life.on_close(store.engine.dispose)
    live = LiveHub(health_ttl_s=config.health_ttl_s)
    if keys is None and config.keyvault_target:
        keys = _follow_keys(config.keyvault_target, life, config.identity)
    host = MetricsHost(live, config.identity)
    servicer = MetricsServicer(
        keys=keys,
        store=store,
        reports=UsageReports(store.engine),
        live=live,
        instruments=MetricsServiceInstruments(registry),
        table=table,
        verifier=host.verifier,
    )
    host.add(SERVICE_NAME, lambda srv: pb_grpc.add_MetricsServiceServicer_to_server(servicer, srv))
    _log.info("metrics: price table %s, database %s", table.version, store.dialect)

    async def ready() -> None:
        # Dependencies are up once the database answers; then the live ticker runs.
        await asyncio.to_thread(store.ping)
        life.spawn(live.run(), "live stats")

    return Service(host, config.listen, ready=ready, grace_seconds=config.grace_s)


def _follow_keys(target: str, life: Lifecycle, identity: IdentitySettings) -> KeyCache:
    # Never part of readiness: ingest must work while the key vault is away;
    # reports answer "retry shortly" until the first key snapshot arrives.
    keys = KeyCache()
    channel = open_channel(target, identity=identity)
    life.on_close(lambda: channel.close(None))
    life.spawn(keys.follow(channel, watcher=f"metrics@{socket.gethostname()}"), "key watch")
    return keys


async def open_store(config: MetricsConfig) -> UsageStore:
    """The store, its schema at head: migrated by a child process when `auto` asks for
    it (this process never loads Alembic), else checked."""
    engine = db.create_engine(config.database_url)
    try:
        current = await asyncio.to_thread(db.current_revision, engine)
        if current != db.HEAD:
            if config.migrate != "auto":
                raise ConfigError(
                    f"the metrics database is at revision {current}, the code needs "
                    f"{db.HEAD}: run `python -m metrics migrate` "
                    "(or set AGENTOPIA_METRICS_MIGRATE=auto)"
                )
            await db.migrate_in_child(
                {
                    "AGENTOPIA_METRICS_DATABASE_URL": config.database_url,
                    "AGENTOPIA_LOG_LEVEL": config.log_level,
                }
            )
    except BaseException:
        engine.dispose()
        raise
    return UsageStore(engine)


def migrate_schema(config: MetricsConfig) -> int:
    """`python -m metrics migrate`: bring the schema to head and exit (the explicit
    production step when AGENTOPIA_METRICS_MIGRATE=off)."""
    configure_logging("metrics", config.log_level)
    engine = db.create_engine(config.database_url)
    try:
        db.migrate(engine)
    finally:
        engine.dispose()
    _log.info("metrics: database at revision %s", db.head_revision())
    return 0
