"""The schema's revision and its migrations: `upgrade` (Alembic, driven from code) as an
explicit step (`python -m keyvault migrate`) or at start (`upgrade_in_child`), and a
check that the schema is current.

Alembic is imported only by `upgrade` and `downgrade`. The long-running key vault reads
the revision with a plain query and compares it with `HEAD`; when it must migrate, it
runs `python -m keyvault migrate` as a short-lived child process, so Alembic (and Mako)
never take up room in the service's resident set.
"""

from __future__ import annotations

import logging
import pathlib
from collections.abc import Mapping
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

from services.kernel.child import run_in_child

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "HEAD",
    "MigrationError",
    "current_revision",
    "downgrade",
    "head_revision",
    "is_current",
    "script_head",
    "upgrade",
    "upgrade_in_child",
]

_log = logging.getLogger(__name__)

# The newest migration in keyvault/migrations/versions; tests/keyvault/test_storage.py
# checks it against Alembic's own reading of the scripts, so a migration added without
# moving it fails there.
HEAD = "0003"

_SCRIPTS = pathlib.Path(__file__).resolve().parent.parent / "migrations"
_VERSION_TABLE = "alembic_version"
# Any constant: serialises concurrent upgrades from several replicas on PostgreSQL.
_ADVISORY_LOCK = 0x6B76_6D69


class MigrationError(RuntimeError):
    """`python -m keyvault migrate`, run at start, failed (its own output says why)."""


def _config(connection: Connection | None = None) -> Config:
    from alembic.config import Config  # noqa: PLC0415 (only migrating needs Alembic)

    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    return HEAD


def script_head() -> str | None:
    """The head as Alembic reads it from the migration scripts (what `HEAD` must be)."""
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The schema's revision (None before the first migration), read without Alembic."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(_VERSION_TABLE):
            return None
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        return None if revision is None else str(revision)


def is_current(engine: Engine) -> bool:
    return current_revision(engine) == HEAD


def _locked(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK})


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`; safe to run from several replicas at once."""
    from alembic import command  # noqa: PLC0415

    with engine.begin() as connection:
        _locked(connection)
        command.upgrade(_config(connection), revision)
    _log.info("key vault schema is at %s", current_revision(engine))


def downgrade(engine: Engine, revision: str) -> None:
    """Undo migrations down to `revision` (a rollback step; drops what they added)."""
    from alembic import command  # noqa: PLC0415

    with engine.begin() as connection:
        _locked(connection)
        command.downgrade(_config(connection), revision)
    _log.info("key vault schema is at %s", current_revision(engine))


async def upgrade_in_child(env: Mapping[str, str]) -> None:
    """Run `python -m keyvault migrate` in a child process (this one never imports
    Alembic) with `env` over this process's environment; a failure raises."""
    status = await run_in_child("keyvault", "migrate", env)
    if status != 0:
        raise MigrationError(f"`python -m keyvault migrate` exited with status {status}")
