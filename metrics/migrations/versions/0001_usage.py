"""Usage events and the per-minute rollup.

Revision ID: 0001_usage
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_usage"
down_revision = None
branch_labels = None
depends_on = None

_SUMS = (
    "requests",
    "errors",
    "unpriced_requests",
    "streamed_requests",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "cache_creation_tokens",
    "reasoning_tokens",
    "retries",
    "failovers",
    "cost_pusd",
)


def upgrade() -> None:
    op.create_table(
        "usage_events",
        sa.Column("event_id", sa.String(128), primary_key=True),
        sa.Column("request_id", sa.String(256), nullable=False),
        sa.Column("time_us", sa.BigInteger, nullable=False),
        sa.Column("minute", sa.BigInteger, nullable=False),
        sa.Column("received_us", sa.BigInteger, nullable=False),
        sa.Column("key_id", sa.String(128), nullable=False),
        sa.Column("team", sa.String(128), nullable=False),
        sa.Column("requested_model", sa.String(256), nullable=False),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("deployment_id", sa.String(256), nullable=False),
        sa.Column("operation", sa.String(64), nullable=False),
        sa.Column("stream", sa.Boolean, nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger, nullable=False),
        sa.Column("completion_tokens", sa.BigInteger, nullable=False),
        sa.Column("cached_tokens", sa.BigInteger, nullable=False),
        sa.Column("cache_creation_tokens", sa.BigInteger, nullable=False),
        sa.Column("reasoning_tokens", sa.BigInteger, nullable=False),
        sa.Column("cost_pusd", sa.BigInteger, nullable=True),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("ttft_ms", sa.Float, nullable=False),
        sa.Column("upstream_ms", sa.Float, nullable=False),
        sa.Column("overhead_ms", sa.Float, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("error_code", sa.String(128), nullable=False),
        sa.Column("is_error", sa.Boolean, nullable=False),
        sa.Column("retries", sa.Integer, nullable=False),
        sa.Column("failovers", sa.Integer, nullable=False),
    )
    op.create_index("ix_usage_events_time", "usage_events", ["time_us"])
    op.create_index(
        "ix_usage_events_provider_model_time", "usage_events", ["provider", "model", "time_us"]
    )
    op.create_index("ix_usage_events_key_time", "usage_events", ["key_id", "time_us"])
    op.create_index("ix_usage_events_team_time", "usage_events", ["team", "time_us"])
    op.create_table(
        "usage_minute",
        sa.Column("minute", sa.BigInteger, nullable=False),
        sa.Column("key_id", sa.String(128), nullable=False),
        sa.Column("team", sa.String(128), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("model", sa.String(256), nullable=False),
        *(sa.Column(name, sa.BigInteger, nullable=False, server_default="0") for name in _SUMS),
        sa.PrimaryKeyConstraint(
            "minute", "key_id", "team", "provider", "model", name="pk_usage_minute"
        ),
    )
    op.create_index(
        "ix_usage_minute_provider_model", "usage_minute", ["provider", "model", "minute"]
    )
    op.create_index("ix_usage_minute_key", "usage_minute", ["key_id", "minute"])
    op.create_index("ix_usage_minute_team", "usage_minute", ["team", "minute"])


def downgrade() -> None:
    op.drop_table("usage_minute")
    op.drop_table("usage_events")
