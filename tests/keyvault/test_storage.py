"""Alembic migrations: they build exactly the models' schema on SQLite and PostgreSQL,
run on start in the embedded default (as a child process: `python -m keyvault migrate`),
and are an explicit step otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from keyvault.config import KeyVaultConfig
from keyvault.server import SchemaNotCurrentError, open_database
from keyvault.storage import migrate
from keyvault.storage.database import make_engine
from keyvault.storage.models import Base


async def test_migrations_build_exactly_the_models(
    make_config: Callable[..., KeyVaultConfig],
) -> None:
    config = make_config()
    engine = make_engine(config.database_url, config.database_schema)
    try:
        migrate.upgrade(engine)
        migrate.upgrade(engine)  # idempotent
        assert migrate.is_current(engine)
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


async def test_without_auto_migration_an_old_schema_refuses_to_start(
    make_config: Callable[..., KeyVaultConfig],
) -> None:
    with pytest.raises(SchemaNotCurrentError, match="python -m keyvault migrate"):
        await open_database(make_config(AGENTOPIA_KEYVAULT_MIGRATE="off"))


def test_migrate_is_an_explicit_command(make_config: Callable[..., KeyVaultConfig]) -> None:
    config = make_config(AGENTOPIA_KEYVAULT_MIGRATE="off")
    env = {
        **os.environ,
        "AGENTOPIA_KEYVAULT_DATABASE_URL": config.database_url,
        "AGENTOPIA_KEYVAULT_DATABASE_SCHEMA": config.database_schema,
        "AGENTOPIA_KEYVAULT_MIGRATE": "off",
    }
    done = subprocess.run(
        [sys.executable, "-m", "keyvault", "migrate"],
        check=False,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    engine = make_engine(config.database_url, config.database_schema)
    try:
        assert migrate.is_current(engine)
    finally:
        engine.dispose()


async def test_auto_migration_runs_the_migrate_command_in_a_child_process(
    make_config: Callable[..., KeyVaultConfig],
) -> None:
    # A fresh database: the key vault brings it to head with `python -m keyvault migrate`
    # (so the long-running process never loads Alembic), then opens it.
    config = make_config()
    engine = make_engine(config.database_url, config.database_schema)
    try:
        assert migrate.current_revision(engine) is None
    finally:
        engine.dispose()
    db = await open_database(config)
    try:
        assert migrate.is_current(db.engine)
    finally:
        db.dispose()


def test_head_is_the_newest_migration_script() -> None:
    assert migrate.script_head() == migrate.HEAD == migrate.head_revision()
