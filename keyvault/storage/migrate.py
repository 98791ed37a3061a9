"""Alembic, driven from code: `upgrade head` at start (embedded default) or as an explicit
step (`python -m keyvault migrate`), and a check that the schema is current."""

from __future__ import annotations

import logging
import pathlib

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

__all__ = ["current_revision", "downgrade", "head_revision", "is_current", "upgrade"]

_log = logging.getLogger(__name__)

_SCRIPTS = pathlib.Path(__file__).resolve().parent.parent / "migrations"
# Any constant: serialises concurrent upgrades from several replicas on PostgreSQL.
_ADVISORY_LOCK = 0x6B76_6D69


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    head = ScriptDirectory.from_config(config).get_current_head()
    if head is None:
        raise RuntimeError("no migrations found")
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_current(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()


def _locked(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK})


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`; safe to run from several replicas at once."""
    with engine.begin() as connection:
        _locked(connection)
        command.upgrade(_config(connection), revision)
    _log.info("key vault schema is at %s", current_revision(engine))


def downgrade(engine: Engine, revision: str) -> None:
    """Undo migrations down to `revision` (a rollback step; drops what they added)."""
    with engine.begin() as connection:
        _locked(connection)
        command.downgrade(_config(connection), revision)
    _log.info("key vault schema is at %s", current_revision(engine))
