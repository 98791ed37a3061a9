"""Client keys: the governed pass-through parameters each may send
(`allowed_parameters`, a JSON array; "[]" = none, the safe default for existing keys).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 19:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("client_keys") as batch:
        batch.add_column(
            sa.Column("allowed_parameters", sa.Text(), nullable=False, server_default="[]")
        )


def downgrade() -> None:
    with op.batch_alter_table("client_keys") as batch:
        batch.drop_column("allowed_parameters")
