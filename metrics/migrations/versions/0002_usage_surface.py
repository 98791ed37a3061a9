"""The client surface each usage event came in on (chat_completions, messages, ...).

Revision ID: 0002_usage_surface
Revises: 0001_usage
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_usage_surface"
down_revision = "0001_usage"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Events stored before surfaces were recorded keep an empty one.
    op.add_column(
        "usage_events",
        sa.Column("surface", sa.String(32), nullable=False, server_default=""),
    )


def downgrade() -> None:
    op.drop_column("usage_events", "surface")
