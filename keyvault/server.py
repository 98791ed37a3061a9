"""Composition root of the key vault: the database (migrated or checked), the KEK and
the hash key, the stores and the feeds that push their snapshots, the sweeper, and the
four gRPC services on one port. Everything is loaded before the server binds, so
SERVING means ready."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
from dataclasses import dataclass

from agentopia.v1 import routing_config_service_pb2 as rc_pb2

from keyvault.access import Guard
from keyvault.audit.log import AuditLog
from keyvault.audit.servicer import AuditServicer
from keyvault.client.limits import Limiter, open_limiter
from keyvault.client_keys.hash_key import load_or_create_hash_key, rewrap_hash_key
from keyvault.client_keys.servicer import ClientKeyServicer
from keyvault.client_keys.snapshot import ClientSnapshot, build_client_snapshot
from keyvault.client_keys.store import ClientKeyStore
from keyvault.client_keys.usage import ClientUsageReporter
from keyvault.config import KeyVaultConfig
from keyvault.crypto.envelope import Envelope
from keyvault.crypto.imports import ImportPolicy
from keyvault.crypto.kek import FileKekSource, KekError, KekSource, Keyring, SecretManagerKekSource
from keyvault.crypto.secret_manager import SecretManagerReader, make_secret_manager_client
from keyvault.handlers import GuardedServicer, register
from keyvault.provider_keys.health import KeyHealth
from keyvault.provider_keys.lease import LeasedKey, lease_snapshot
from keyvault.provider_keys.servicer import ProviderKeyServicer
from keyvault.provider_keys.store import ProviderKeyStore
from keyvault.provider_keys.validation import ProviderServiceValidator, Validator
from keyvault.routing_config.convert import build_routing_snapshot
from keyvault.routing_config.servicer import RoutingConfigServicer
from keyvault.routing_config.store import RoutingConfigStore
from keyvault.storage import migrate, versions
from keyvault.storage.database import Database, make_engine
from keyvault.storage.feed import CounterFeeds, SnapshotFeed
from services.kernel.channels import open_channel
from services.kernel.config import ConfigError
from services.kernel.exposition import start_settings
from services.kernel.hosting import ServiceHost
from services.kernel.logs import configure_logging
from services.kernel.service import Lifecycle, Service

__all__ = ["SchemaNotCurrentError", "compose", "migrate_schema", "open_database"]

_log = logging.getLogger(__name__)


class SchemaNotCurrentError(ConfigError):
    """The database needs `python -m keyvault migrate` before the key vault can start."""


async def open_database(config: KeyVaultConfig) -> Database:
    """The database, its schema at head: migrated by a child process when `auto` asks
    for it (this process never loads Alembic), else checked."""
    engine = make_engine(config.database_url, config.database_schema)
    try:
        if not await asyncio.to_thread(migrate.is_current, engine):
            if config.migrate != "auto":
                raise SchemaNotCurrentError(
                    "the key vault database schema is not current: run "
                    "`python -m keyvault migrate` (or set AGENTOPIA_KEYVAULT_MIGRATE=auto)"
                )
            await migrate.upgrade_in_child(_database_env(config))
        else:
            _log.info("key vault schema is at %s", migrate.HEAD)
    except BaseException:
        engine.dispose()
        raise
    return Database(engine)


def _database_env(config: KeyVaultConfig) -> dict[str, str]:
    """The variables `python -m keyvault migrate` needs to reach this database."""
    return {
        "AGENTOPIA_KEYVAULT_DATABASE_URL": config.database_url,
        "AGENTOPIA_KEYVAULT_DATABASE_SCHEMA": config.database_schema,
        "AGENTOPIA_LOG_LEVEL": config.log_level,
    }


def migrate_schema(config: KeyVaultConfig) -> int:
    """`python -m keyvault migrate`: bring the schema to head, then exit."""
    configure_logging("keyvault", config.log_level)
    engine = make_engine(config.database_url, config.database_schema)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    return 0


def _secret_reader(config: KeyVaultConfig, life: Lifecycle) -> SecretManagerReader | None:
    if config.kek_source != "secret-manager" and not config.secret_manager_endpoint:
        return None
    client = make_secret_manager_client(config.secret_manager_endpoint)
    life.on_close(client.transport.close)
    return SecretManagerReader(client)


async def _open_envelope(config: KeyVaultConfig, reader: SecretManagerReader | None) -> Envelope:
    source: KekSource = (
        SecretManagerKekSource(reader, config.kek_secret)
        if reader is not None and config.kek_source == "secret-manager"
        else FileKekSource(config.kek_file)
    )
    keyring = Keyring(source)
    try:
        await keyring.load()
    except KekError as error:  # a key file with the wrong mode or length: the operator's fix
        raise ConfigError(f"the key-encryption key cannot be loaded: {error}") from None
    return Envelope(keyring)


def _limiter(config: KeyVaultConfig, life: Lifecycle) -> Limiter | None:
    if not config.limits_redis_url:
        return None
    limiter = open_limiter(
        config.limits_redis_url,
        prefix=config.limits_prefix,
        timeout_s=config.limits_redis_timeout_s,
    )
    life.on_close(limiter.aclose)
    return limiter


def _validator(config: KeyVaultConfig, life: Lifecycle) -> Validator:
    channel = open_channel(config.provider_target, identity=config.identity)
    life.on_close(functools.partial(channel.close, None))
    return ProviderServiceValidator(channel)


@dataclass(frozen=True, slots=True)
class _Feeds:
    """One snapshot feed per change counter; the stores publish to them."""

    counters: CounterFeeds
    client_keys: SnapshotFeed[ClientSnapshot]
    provider_keys: SnapshotFeed[list[LeasedKey]]
    routing_config: SnapshotFeed[rc_pb2.WatchRoutingConfigResponse]

    @classmethod
    def of(cls, db: Database, hash_key: bytes, envelope: Envelope, poll_s: float) -> _Feeds:
        counters = CounterFeeds(db, poll_interval_s=poll_s)
        return cls(
            counters,
            counters.add(
                versions.CLIENT_KEYS, functools.partial(build_client_snapshot, db, hash_key)
            ),
            counters.add(versions.PROVIDER_KEYS, functools.partial(lease_snapshot, db, envelope)),
            counters.add(versions.ROUTING_CONFIG, functools.partial(build_routing_snapshot, db)),
        )

    async def start(self, life: Lifecycle) -> None:
        """Load each snapshot now (so SERVING means ready), then follow the counters."""
        await self.counters.refresh()
        life.spawn(self.counters.follow(), "feeds")


async def compose(
    config: KeyVaultConfig, life: Lifecycle, *, validator: Validator | None = None
) -> Service:
    """Build the key vault. `validator` replaces the provider-service check (tests)."""
    exposition = start_settings(config.exposition)
    if exposition is not None:
        life.on_close(exposition.close)
    db = await open_database(config)
    life.on_close(functools.partial(asyncio.to_thread, db.dispose))
    reader = _secret_reader(config, life)
    envelope = await _open_envelope(config, reader)
    hash_key = await load_or_create_hash_key(db, envelope)
    feeds = _Feeds.of(db, hash_key, envelope, config.poll_interval_s)
    client_keys = ClientKeyStore(db, hash_key, feeds.client_keys.changed)
    provider_keys = ProviderKeyStore(
        db,
        envelope,
        feeds.provider_keys.changed,
        reader,
        ImportPolicy(config.secret_import_prefix, config.kek_secret),
    )
    health = KeyHealth(db, feeds.provider_keys.changed)
    rewrapped = int(await rewrap_hash_key(db, envelope)) + await provider_keys.rewrap_all()
    if rewrapped:
        _log.info("re-wrapped %d data keys under KEK %s", rewrapped, envelope.current_kek_id)
    if config.admin_key:
        await client_keys.upsert_bootstrap(config.admin_key)
    await feeds.start(life)
    life.spawn(
        health.sweep_when_due(feeds.provider_keys.next_change, config.sweep_interval_s),
        "provider-key sweeper",
    )

    servicers: tuple[GuardedServicer, ...] = (
        ClientKeyServicer(
            client_keys, feeds.client_keys, ClientUsageReporter(_limiter(config, life))
        ),
        ProviderKeyServicer(
            store=provider_keys,
            feed=feeds.provider_keys,
            health=health,
            validator=validator or _validator(config, life),
            rotation_overlap=dt.timedelta(seconds=config.rotation_overlap_s),
        ),
        RoutingConfigServicer(
            RoutingConfigStore(db, feeds.routing_config.changed), feeds.routing_config
        ),
        AuditServicer(AuditLog(db)),
    )
    host = ServiceHost("keyvault", identity=config.identity)
    guard = Guard(feeds.client_keys, config.service_token, host.verifier)
    for servicer in servicers:
        register(host, guard, servicer)
    return Service(host, config.listen, grace_seconds=config.drain_grace_s)
