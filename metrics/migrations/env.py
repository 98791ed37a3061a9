"""Alembic environment: always run with a connection handed in by
`metrics.storage.db.migrate` (no alembic.ini, no URL of its own)."""

from __future__ import annotations

from alembic import context

from metrics.storage.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only via metrics.storage.db.migrate
    raise RuntimeError("run migrations through metrics.storage.db.migrate(engine)")
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
