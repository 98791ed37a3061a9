"""Fixtures for the metrics tests: SQLite and the real PostgreSQL (a unique
schema per test session, dropped afterwards), and an in-process service on port 0."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import grpc
import pytest
import sqlalchemy as sa
from agentopia.v1 import metrics_service_pb2_grpc as pb_grpc
from prometheus_client import CollectorRegistry

from keyvault.client.keycache import KeyCache
from metrics.config import MetricsConfig
from metrics.server import compose
from metrics.storage import db
from services.kernel.channels import identified
from services.kernel.service import Lifecycle
from tests.support.backing import postgres_url
from tests.support.identity import identity


def pg_url(schema: str, app: str = "agentopia-metrics-test") -> str:
    return f"{postgres_url()}?options=-csearch_path%3D{schema}&application_name={app}"


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[str]:
    schema = f"metrics_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_url())
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine = db.create_engine(pg_url(schema))
    db.migrate(engine)
    engine.dispose()
    yield schema
    with admin.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def empty_pg(schema: str) -> str:
    url = pg_url(schema)
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("TRUNCATE usage_events, usage_minute"))
    engine.dispose()
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('metrics')}/metrics.db"
    return empty_pg(request.getfixturevalue("pg_schema"))


def config_for(url: str, **overrides: object) -> MetricsConfig:
    values: dict[str, object] = {
        "listen": "127.0.0.1:0",
        "database_url": url,
        "migrate": "auto",
        "grace_s": 0.0,
        "health_ttl_s": 30.0,
        "log_level": "INFO",
        "identity": identity("metrics"),
    }
    values.update(overrides)
    return MetricsConfig(**values)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def serving(
    config: MetricsConfig, registry: CollectorRegistry, keys: KeyCache | None = None
) -> AsyncIterator[int]:
    """The composed service on `config.listen` (port 0), SERVING; yields its port.

    With `migrate="auto"` the database is brought to head here first, in the test
    process, so `compose` finds it current instead of starting a migration child
    process per test (that child is tested on its own in test_storage.py)."""
    if config.migrate == "auto":
        await asyncio.to_thread(_migrate, config.database_url)
    life = Lifecycle()
    try:
        service = await compose(config, life, registry=registry, keys=keys)
        port = await service.host.start(service.listen)
        try:
            assert service.ready is not None
            await service.ready()
            await service.host.mark_serving()
            yield port
        finally:
            await service.host.stop(0)
    finally:
        await life.close()


def _migrate(url: str) -> None:
    engine = db.create_engine(url)
    try:
        db.migrate(engine)
    finally:
        engine.dispose()


@dataclass
class Running:
    port: int
    channel: grpc.aio.Channel
    stub: pb_grpc.MetricsServiceStub
    registry: CollectorRegistry

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"


@pytest.fixture
async def running(database_url: str) -> AsyncIterator[Running]:
    registry = CollectorRegistry()
    async with (
        serving(config_for(database_url), registry) as port,
        identified(grpc.aio.insecure_channel(f"127.0.0.1:{port}"), identity("router")) as channel,
    ):
        # The tests send usage as a router does (RecordUsage takes routers' events only).
        yield Running(port, channel, pb_grpc.MetricsServiceStub(channel), registry)
