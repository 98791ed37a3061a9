"""Engine creation (SQLite or PostgreSQL), the schema's revision and its migrations.

Alembic is imported only by `migrate` (and `script_head`). The long-running service
reads the revision with a plain query and compares it with `HEAD`; when it must
migrate, it runs `python -m metrics migrate` as a short-lived child process
(`migrate_in_child`), so Alembic (and Mako) never take up room in its resident set.
"""

from __future__ import annotations

import pathlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from services.kernel.child import run_in_child

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "HEAD",
    "MigrationError",
    "create_engine",
    "current_revision",
    "head_revision",
    "migrate",
    "migrate_in_child",
    "script_head",
]

# The newest migration in metrics/migrations/versions; tests/metrics/test_storage.py
# checks it against Alembic's own reading of the scripts, so a migration added without
# moving it fails there.
HEAD = "0002_usage_surface"

_VERSION_TABLE = "alembic_version"
MIGRATIONS = pathlib.Path(__file__).resolve().parent.parent / "migrations"


class MigrationError(RuntimeError):
    """`python -m metrics migrate`, run at start, failed (its own output says why)."""


def create_engine(url: str) -> sa.Engine:
    """An engine for `url`; SQLite files get WAL and a busy timeout, PostgreSQL
    connections are checked before use so a restarted server is reconnected."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            pathlib.Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(parsed, connect_args={"timeout": 30, "check_same_thread": False})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=5)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable across process kills in WAL mode
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _config() -> Config:
    from alembic.config import Config  # noqa: PLC0415 (only migrating needs Alembic)

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def migrate(engine: sa.Engine) -> None:
    """Upgrade the schema to the latest revision (idempotent)."""
    from alembic import command  # noqa: PLC0415

    config = _config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def head_revision() -> str:
    return HEAD


def script_head() -> str | None:
    """The head as Alembic reads it from the migration scripts (what `HEAD` must be)."""
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: sa.Engine) -> str | None:
    """The schema's revision (None before the first migration), read without
    Alembic's migration context, which logs its set-up on every use."""
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table(_VERSION_TABLE):
            return None
        return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


async def migrate_in_child(env: Mapping[str, str]) -> None:
    """Run `python -m metrics migrate` in a child process (this one never imports
    Alembic) with `env` over this process's environment; a failure raises."""
    status = await run_in_child("metrics", "migrate", env)
    if status != 0:
        raise MigrationError(f"`python -m metrics migrate` exited with status {status}")
