"""The routers' shared routing config: PutRoutingConfig (compare-and-set, admin key
forwarded by the router, audited, every revision kept) and WatchRoutingConfig (the
stored revision on connect, then each new one, from any replica sharing the database);
migration 0002 on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
import pytest
from agentopia.v1 import audit_service_pb2 as audit_pb2
from agentopia.v1 import client_key_service_pb2 as ck_pb2
from agentopia.v1 import keyvault_types_pb2 as kv_types
from agentopia.v1 import routing_config_service_pb2 as rc_pb2
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select

from keyvault.config import KeyVaultConfig
from keyvault.routing_config.store import MAX_TOML_BYTES, RoutingConfigStore
from keyvault.storage import migrate
from keyvault.storage.database import Database, make_engine
from keyvault.storage.models import Base, VersionRow
from services.kernel.errors import GatewayError
from tests.keyvault.conftest import Vault, admin
from tests.keyvault.streams import Follower

DOC = "schema_version = 1\nversion = 1\n\n[providers.mock]\ntimeout_s = 5.0\n"
T = TypeVar("T")


async def _stored(vault: Vault, read: Callable[[RoutingConfigStore], Awaitable[T]]) -> T:
    """Read the vault's database directly, through a store of its own."""
    config = vault.config
    db = Database(make_engine(config.database_url, config.database_schema))
    try:
        return await read(RoutingConfigStore(db, _unpublished))
    finally:
        db.dispose()


async def _unpublished() -> None:
    raise AssertionError("only reads go through this store")


def _watch(vault: Vault) -> Follower[rc_pb2.WatchRoutingConfigResponse]:
    return Follower(vault.routing.WatchRoutingConfig(rc_pb2.WatchRoutingConfigRequest(watcher="t")))


async def _put(
    vault: Vault, toml: str, expected: int, metadata: Any = None, updated_by: str = ""
) -> rc_pb2.RoutingConfigRevision:
    reply = await vault.routing.PutRoutingConfig(
        rc_pb2.PutRoutingConfigRequest(toml=toml, expected_version=expected, updated_by=updated_by),
        metadata=admin() if metadata is None else metadata,
    )
    return reply.revision


async def _refused(vault: Vault, toml: str, expected: int, **kwargs: Any) -> GatewayError:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _put(vault, toml, expected, **kwargs)
    error = GatewayError.from_rpc_error(refused.value)
    assert error.status == refused.value.code()
    return error


async def _bootstrap_id(vault: Vault) -> str:
    keys = await vault.client_keys.ListClientKeys(ck_pb2.ListClientKeysRequest(), metadata=admin())
    return next(k.key_id for k in keys.keys if k.bootstrap)


async def test_first_put_then_compare_and_set_audited_and_kept(vault: Vault) -> None:
    admin_id = await _bootstrap_id(vault)
    # Nothing stored: any expected version is accepted (the router's shipped file is v1).
    first = await _put(vault, DOC, 1, updated_by=admin_id)
    assert (first.version, first.toml, first.updated_by) == (2, DOC, admin_id)
    assert first.HasField("update_time")

    stale = await _refused(vault, DOC + "# stale\n", 1)
    assert stale.status == grpc.StatusCode.ABORTED
    assert stale.code == "routing_config_conflict"
    assert "version 2" in stale.message

    second = await _put(vault, DOC + "# second\n", 2)  # updated_by may be left empty
    assert (second.version, second.updated_by) == (3, admin_id)
    assert second.update_time.ToDatetime() >= first.update_time.ToDatetime()
    assert (await _refused(vault, DOC, 7)).code == "routing_config_conflict"

    # Every revision is kept; the audit log says who and which version, not the text.
    history = await _stored(vault, lambda store: store.history())
    assert [(r.version, r.toml) for r in history] == [(3, DOC + "# second\n"), (2, DOC)]
    events = await vault.audit.ListAuditEvents(
        audit_pb2.ListAuditEventsRequest(target_id="routing_config"), metadata=admin()
    )
    assert [e.action for e in events.events] == ["routing_config.update"] * 2
    assert [e.details["version"] for e in events.events] == ["3", "2"]
    assert {e.actor_key_id for e in events.events} == {admin_id}
    assert events.events[0].details["previous_version"] == "2"
    assert "providers.mock" not in str(events)


async def test_only_admin_keys_may_put(vault: Vault) -> None:
    denied = grpc.StatusCode.PERMISSION_DENIED
    for role in (kv_types.KEY_ROLE_VIEWER, kv_types.KEY_ROLE_CLIENT):
        made = await vault.client_keys.CreateClientKey(
            ck_pb2.CreateClientKeyRequest(name=f"r{role}", role=role), metadata=admin()
        )
        error = await _refused(vault, DOC, 0, metadata=admin(made.secret))
        assert (error.status, error.code) == (denied, "admin_key_required")
    missing = await _refused(vault, DOC, 0, metadata=())
    assert (missing.status, missing.code) == (grpc.StatusCode.UNAUTHENTICATED, "missing_api_key")
    unknown = await _refused(vault, DOC, 0, metadata=admin("sk-agp-unknown"))
    assert (unknown.status, unknown.code) == (grpc.StatusCode.UNAUTHENTICATED, "invalid_api_key")
    # Nothing was stored by the refused calls.
    assert (await _stored(vault, lambda store: store.latest())).version == 0

    # An admin key created at runtime works, and the history names it, whatever is claimed.
    other = await vault.client_keys.CreateClientKey(
        ck_pb2.CreateClientKeyRequest(name="ops", role=kv_types.KEY_ROLE_ADMIN), metadata=admin()
    )
    spoofed = await _refused(vault, DOC, 0, metadata=admin(other.secret), updated_by="key_x")
    assert (spoofed.status, spoofed.param) == (grpc.StatusCode.INVALID_ARGUMENT, "updated_by")
    stored = await _put(vault, DOC, 0, metadata=admin(other.secret))
    assert (stored.version, stored.updated_by) == (1, other.key.key_id)


async def test_oversize_empty_and_negative_are_invalid(vault: Vault) -> None:
    big = "#" * (MAX_TOML_BYTES + 1)
    error = await _refused(vault, big, 0)
    assert (error.status, error.param) == (grpc.StatusCode.INVALID_ARGUMENT, "toml")
    assert "1 MiB" in error.message
    assert (await _refused(vault, "  \n", 0)).param == "toml"
    assert (await _refused(vault, DOC, -1)).param == "expected_version"
    exact = "#" * MAX_TOML_BYTES  # the limit itself is accepted
    assert (await _put(vault, exact, 0)).version == 1


async def test_watch_gets_the_stored_revision_on_connect_then_each_new_one(vault: Vault) -> None:
    watcher = _watch(vault)
    try:
        empty = await watcher.until(lambda m: True)
        assert (empty.revision.version, empty.revision.toml) == (0, "")
        first = await _put(vault, DOC, 1)
        got = await watcher.until(lambda m: m.revision.version == first.version)
        assert got.revision == first
        second = await _put(vault, DOC + "# two\n", first.version)
        got = await watcher.until(lambda m: m.revision.version == second.version)
        assert got.revision.toml == DOC + "# two\n"
        assert [m.revision.version for m in watcher.seen] == [0, 2, 3]
    finally:
        await watcher.close()

    # A new watcher gets only the latest revision on connect (history stays stored).
    late = _watch(vault)
    try:
        current = await late.until(lambda m: True)
        assert current.revision == second
    finally:
        await late.close()


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_a_put_on_one_replica_reaches_watchers_of_another(
    start_vault: Callable[..., Any], make_config: Callable[..., KeyVaultConfig]
) -> None:
    config = make_config()
    replica_a: Vault = await start_vault(config)
    replica_b: Vault = await start_vault(config)  # same PostgreSQL schema
    watcher = _watch(replica_b)
    try:
        await watcher.until(lambda m: True)
        first = await _put(replica_a, DOC, 1)
        got = await watcher.until(lambda m: m.revision.version == first.version)
        assert got.revision.toml == DOC

        # Compare-and-set holds across replicas: of concurrent puts on the same version
        # exactly one is stored.
        puts = [
            _put(vault, f"{DOC}# racer {i}\n", first.version)
            for i, vault in enumerate([replica_a, replica_b] * 3)
        ]
        results = await asyncio.gather(*puts, return_exceptions=True)
        stored = [r for r in results if isinstance(r, rc_pb2.RoutingConfigRevision)]
        assert len(stored) == 1, results
        for failed in results:
            if isinstance(failed, grpc.aio.AioRpcError):
                assert failed.code() == grpc.StatusCode.ABORTED
        assert len(stored) + sum(isinstance(r, grpc.aio.AioRpcError) for r in results) == 6
        got = await watcher.until(lambda m: m.revision.version == first.version + 1)
        assert got.revision.toml == stored[0].toml
    finally:
        await watcher.close()


def _counters(engine: Any) -> dict[str, int]:
    with engine.connect() as connection:
        rows = connection.execute(select(VersionRow.name, VersionRow.version))
        return {name: int(version) for name, version in rows}


async def test_migration_0002_upgrades_and_downgrades(
    make_config: Callable[..., KeyVaultConfig],
) -> None:
    config = make_config()
    engine = make_engine(config.database_url, config.database_schema)
    try:
        migrate.upgrade(engine, "0001")
        assert "routing_config_revisions" not in inspect(engine).get_table_names()
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.HEAD == migrate.head_revision()
        assert "routing_config_revisions" in inspect(engine).get_table_names()
        assert _counters(engine) == {"client_keys": 0, "provider_keys": 0, "routing_config": 0}
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []

        migrate.downgrade(engine, "0001")
        assert migrate.current_revision(engine) == "0001"
        assert "routing_config_revisions" not in inspect(engine).get_table_names()
        assert _counters(engine) == {"client_keys": 0, "provider_keys": 0}
        migrate.upgrade(engine)
        assert migrate.is_current(engine)
        assert "routing_config" in _counters(engine)
    finally:
        engine.dispose()
