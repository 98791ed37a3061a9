"""Routing-config revisions (the router's model registry, shared by every replica) and
their change counter.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_COUNTER = "routing_config"


def _versions() -> sa.TableClause:
    return sa.table(
        "kv_versions", sa.column("name", sa.String), sa.column("version", sa.BigInteger)
    )


def upgrade() -> None:
    op.create_table(
        "routing_config_revisions",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("toml", sa.Text(), nullable=False),
        sa.Column("update_time", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_routing_config_revisions")),
    )
    op.bulk_insert(_versions(), [{"name": _COUNTER, "version": 0}])


def downgrade() -> None:
    versions = _versions()
    op.execute(versions.delete().where(versions.c.name == _COUNTER))
    op.drop_table("routing_config_revisions")
