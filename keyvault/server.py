"""Composition root of the key vault: database (migrated), KEK, hash key, stores (keys
and the routers' routing config), their feeds, the sweeper and the servicer; then the
gRPC lifecycle. The server binds only after the schema is current and the KEK is loaded,
so SERVING means ready."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from agentopia.v1 import keyvault_service_pb2 as kv_pb2
from agentopia.v1 import keyvault_service_pb2_grpc as kv_grpc

from keyvault import versions
from keyvault.access import Guard, KeyDirectory
from keyvault.audit import AuditLog
from keyvault.client.limits import Limiter, RedisLimiter
from keyvault.clientkeys import ClientKeyStore
from keyvault.config import KeyVaultConfig
from keyvault.crypto.envelope import Envelope
from keyvault.crypto.kek import FileKekSource, KekSource, Keyring, SecretManagerKekSource
from keyvault.crypto.secret_manager import SecretManagerReader, make_secret_manager_client
from keyvault.feed import SnapshotFeed
from keyvault.hashkey import load_or_create_hash_key, rewrap_hash_key
from keyvault.provider_health import KeyHealth
from keyvault.providerkeys import LeasedKey, ProviderKeyStore
from keyvault.routing_config import RoutingConfigStore
from keyvault.servicer import KeyVaultServicer, Parts
from keyvault.snapshots import ClientSnapshot, build_client_snapshot, build_routing_snapshot
from keyvault.storage import migrate
from keyvault.storage.database import Database, make_engine
from keyvault.usage import ClientUsageReporter
from keyvault.validation import ProviderServiceValidator, Validator
from metrics.exposition import start_exposition_from_env
from services.kernel.channels import open_channel
from services.kernel.hosting import ServiceHost
from services.kernel.logs import configure_logging
from services.kernel.tracing import configure_tracing, shutdown_tracing

__all__ = ["KeyVaultApp", "RunningKeyVault", "SchemaNotCurrentError", "serve", "start"]

_log = logging.getLogger(__name__)
SERVICE_NAME = "agentopia.v1.KeyVaultService"


class SchemaNotCurrentError(RuntimeError):
    pass


async def open_database(config: KeyVaultConfig) -> Database:
    engine = make_engine(config.database_url, config.database_schema)
    if config.migrate == "auto":
        await asyncio.to_thread(migrate.upgrade, engine)
    elif not await asyncio.to_thread(migrate.is_current, engine):
        engine.dispose()
        raise SchemaNotCurrentError(
            "the key vault database schema is not current: run `python -m keyvault migrate` "
            "(or set AGENTOPIA_KEYVAULT_MIGRATE=auto)"
        )
    return Database(engine)


@dataclass
class KeyVaultApp:
    """Everything the servicer needs, opened in dependency order."""

    config: KeyVaultConfig
    db: Database
    parts: Parts
    tasks: list[asyncio.Task[None]]
    closers: list[Any]

    @classmethod
    async def open(
        cls, config: KeyVaultConfig, *, validator: Validator | None = None
    ) -> KeyVaultApp:
        db = await open_database(config)
        closers: list[Any] = []
        reader = None
        if config.kek_source == "secret-manager" or config.secret_manager_endpoint:
            client = make_secret_manager_client(config.secret_manager_endpoint)
            closers.append(client.transport.close)
            reader = SecretManagerReader(client)
        source: KekSource = (
            SecretManagerKekSource(reader, config.kek_secret)
            if reader is not None and config.kek_source == "secret-manager"
            else FileKekSource(config.kek_file)
        )
        keyring = Keyring(source)
        await keyring.load()
        envelope = Envelope(keyring)
        hash_key = await load_or_create_hash_key(db, envelope)

        # Feeds and stores refer to each other; the lambdas bind late.
        poll = config.poll_interval_s
        client_feed: SnapshotFeed[ClientSnapshot] = SnapshotFeed.of_counter(
            db,
            versions.CLIENT_KEYS,
            build=lambda: build_client_snapshot(client_keys),
            poll_interval_s=poll,
        )
        provider_feed: SnapshotFeed[list[LeasedKey]] = SnapshotFeed.of_counter(
            db,
            versions.PROVIDER_KEYS,
            build=lambda: provider_keys.lease_snapshot(),  # noqa: PLW0108 - late binding
            poll_interval_s=poll,
        )
        routing_feed: SnapshotFeed[kv_pb2.WatchRoutingConfigResponse] = SnapshotFeed.of_counter(
            db,
            versions.ROUTING_CONFIG,
            build=lambda: build_routing_snapshot(routing_config),
            poll_interval_s=poll,
        )
        client_keys = ClientKeyStore(db, hash_key, client_feed.changed)
        provider_keys = ProviderKeyStore(db, envelope, provider_feed.changed, reader)
        health = KeyHealth(db, provider_feed.changed)
        routing_config = RoutingConfigStore(db, routing_feed.changed)
        rewrapped = int(await rewrap_hash_key(db, envelope)) + await provider_keys.rewrap_all()
        if rewrapped:
            _log.info("re-wrapped %d data keys under KEK %s", rewrapped, envelope.current_kek_id)
        if config.admin_key:
            await client_keys.upsert_bootstrap(config.admin_key)
        for feed in (client_feed, provider_feed, routing_feed):
            await feed.start()
        feeds = client_feed

        def directory() -> KeyDirectory | None:
            current = feeds.current
            return None if current is None else current.directory

        limiter: Limiter | None = None
        if config.limits_redis_url:
            limiter = RedisLimiter.from_url(config.limits_redis_url, prefix=config.limits_prefix)
            closers.append(limiter.aclose)
        if validator is None:
            channel = open_channel(config.provider_target)
            closers.append(channel.close)
            validator = ProviderServiceValidator(channel)
        parts = Parts(
            guard=Guard(directory, config.service_token),
            client_keys=client_keys,
            client_feed=client_feed,
            client_usage=ClientUsageReporter(limiter),
            provider_keys=provider_keys,
            provider_feed=provider_feed,
            health=health,
            routing_config=routing_config,
            routing_feed=routing_feed,
            audit_log=AuditLog(db),
            validator=validator,
            rotation_overlap=dt.timedelta(seconds=config.rotation_overlap_s),
        )
        app = cls(config, db, parts, [], closers)
        app.tasks.append(asyncio.create_task(app._sweep(), name="keyvault-sweeper"))
        return app

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.config.sweep_interval_s)
            try:
                await self.parts.health.sweep()
            except Exception:
                _log.exception("provider-key sweep failed")

    def servicer(self) -> KeyVaultServicer:
        return KeyVaultServicer(self.parts)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for feed in self.parts.feeds:
            await feed.stop()
        for close in reversed(self.closers):
            await close()
        await asyncio.to_thread(self.db.dispose)


@dataclass
class RunningKeyVault:
    app: KeyVaultApp
    host: ServiceHost
    port: int

    async def stop(self, grace_seconds: float = 0.0) -> None:
        await self.host.stop(grace_seconds)
        await self.app.close()


def _host(
    app: KeyVaultApp, interceptors: Sequence[grpc.aio.ServerInterceptor[Any, Any]] = ()
) -> ServiceHost:
    host = ServiceHost("keyvault", interceptors=interceptors)
    servicer = app.servicer()
    host.add(
        SERVICE_NAME, lambda server: kv_grpc.add_KeyVaultServiceServicer_to_server(servicer, server)
    )
    return host


async def start(
    config: KeyVaultConfig,
    address: str = "127.0.0.1:0",
    *,
    validator: Validator | None = None,
    interceptors: Sequence[grpc.aio.ServerInterceptor[Any, Any]] = (),
) -> RunningKeyVault:
    """Open, bind and mark SERVING (used by tests and embedders)."""
    app = await KeyVaultApp.open(config, validator=validator)
    host = _host(app, interceptors)
    port = await host.start(address)
    await host.mark_serving()
    return RunningKeyVault(app, host, port)


async def serve(config: KeyVaultConfig) -> None:
    configure_logging("keyvault", config.log_level)
    tracer_provider = configure_tracing("agentopia-keyvault")
    exposition = start_exposition_from_env(default_port=9103)
    app = await KeyVaultApp.open(config)

    async def cleanup() -> None:
        await app.close()
        if exposition is not None:
            exposition.close()
        shutdown_tracing(tracer_provider)

    await _host(app).run(config.listen, cleanup=cleanup, grace_seconds=config.drain_grace_s)
