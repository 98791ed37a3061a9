"""Initial schema: versions, wrapped secrets, client keys, provider keys, usage, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-26 10:37:52.526926
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("time", sa.DateTime(), nullable=False),
        sa.Column("actor_key_id", sa.String(length=40), nullable=False),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_id", sa.String(length=40), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index(op.f("ix_audit_events_target_id"), "audit_events", ["target_id"], unique=False)
    op.create_table(
        "client_keys",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("secret_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("allowed_models", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("team", sa.String(length=200), nullable=False),
        sa.Column("rpm_limit", sa.Integer(), nullable=False),
        sa.Column("tpm_limit", sa.Integer(), nullable=False),
        sa.Column("budget_micros", sa.BigInteger(), nullable=True),
        sa.Column("budget_period", sa.String(length=16), nullable=False),
        sa.Column("bootstrap", sa.Boolean(), nullable=False),
        sa.Column("create_time", sa.DateTime(), nullable=False),
        sa.Column("update_time", sa.DateTime(), nullable=False),
        sa.Column("expire_time", sa.DateTime(), nullable=True),
        sa.Column("revoke_time", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_keys")),
        sa.UniqueConstraint("secret_digest", name=op.f("uq_client_keys_secret_digest")),
    )
    op.create_table(
        "kv_versions",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_kv_versions")),
    )
    op.create_table(
        "kv_wrapped_secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kek_id", sa.String(length=500), nullable=False),
        sa.Column("wrapped_dek", sa.LargeBinary(), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("create_time", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_kv_wrapped_secrets")),
    )
    op.create_table(
        "provider_key_usage",
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("bucket_start", sa.DateTime(), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.BigInteger(), nullable=False),
        sa.Column("rate_limited", sa.BigInteger(), nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger(), nullable=False),
        sa.Column("completion_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_micros", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key_id", "bucket_start", name=op.f("pk_provider_key_usage")),
    )
    op.create_table(
        "provider_keys",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("last4", sa.String(length=4), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("secret_version", sa.String(length=500), nullable=False),
        sa.Column("replaced_by", sa.String(length=40), nullable=False),
        sa.Column("kek_id", sa.String(length=500), nullable=False),
        sa.Column("wrapped_dek", sa.LargeBinary(), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("create_time", sa.DateTime(), nullable=False),
        sa.Column("update_time", sa.DateTime(), nullable=False),
        sa.Column("retire_time", sa.DateTime(), nullable=True),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("flag_reason", sa.String(length=500), nullable=False),
        sa.Column("cooldown_until", sa.DateTime(), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=False),
        sa.Column("last_outcome_time", sa.DateTime(), nullable=True),
        sa.Column("last_validate_time", sa.DateTime(), nullable=True),
        sa.Column("last_validate_result", sa.String(length=16), nullable=False),
        sa.Column("limit_requests", sa.BigInteger(), nullable=True),
        sa.Column("remaining_requests", sa.BigInteger(), nullable=True),
        sa.Column("limit_tokens", sa.BigInteger(), nullable=True),
        sa.Column("remaining_tokens", sa.BigInteger(), nullable=True),
        sa.Column("headroom_reset_time", sa.DateTime(), nullable=True),
        sa.Column("headroom_observe_time", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_keys")),
    )
    op.create_index(op.f("ix_provider_keys_provider"), "provider_keys", ["provider"], unique=False)
    op.create_index(op.f("ix_provider_keys_state"), "provider_keys", ["state"], unique=False)
    versions = sa.table(
        "kv_versions", sa.column("name", sa.String), sa.column("version", sa.BigInteger)
    )
    op.bulk_insert(
        versions, [{"name": "client_keys", "version": 0}, {"name": "provider_keys", "version": 0}]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_provider_keys_state"), table_name="provider_keys")
    op.drop_index(op.f("ix_provider_keys_provider"), table_name="provider_keys")
    op.drop_table("provider_keys")
    op.drop_table("provider_key_usage")
    op.drop_table("kv_wrapped_secrets")
    op.drop_table("kv_versions")
    op.drop_table("client_keys")
    op.drop_index(op.f("ix_audit_events_target_id"), table_name="audit_events")
    op.drop_table("audit_events")
