"""Tables (SQLAlchemy Core). Times are integers: `time_us` is the event time in
microseconds since the epoch (UTC); `minute` is the epoch second its UTC minute
starts at, so hour and day buckets are `minute - minute % width` on every
dialect. Costs are integers in pico-dollars (1e-12 USD), exact on SQLite too
(which has no decimal type); NULL cost means the request was unpriced.

`usage_minute` is the rollup the reports read: one row per (minute, key, team,
provider, model), maintained in the same transaction as the events it counts.
The Alembic migrations in metrics/migrations create exactly these tables.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["ROLLUP_KEYS", "ROLLUP_SUMS", "metadata", "usage_events", "usage_minute"]

metadata = sa.MetaData()

usage_events = sa.Table(
    "usage_events",
    metadata,
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
    # The client surface (chat_completions, completions, messages, embeddings, grpc).
    sa.Column("surface", sa.String(32), nullable=False, server_default=""),
    sa.Index("ix_usage_events_time", "time_us"),
    sa.Index("ix_usage_events_provider_model_time", "provider", "model", "time_us"),
    sa.Index("ix_usage_events_key_time", "key_id", "time_us"),
    sa.Index("ix_usage_events_team_time", "team", "time_us"),
)

ROLLUP_KEYS = ("minute", "key_id", "team", "provider", "model")
ROLLUP_SUMS = (
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

usage_minute = sa.Table(
    "usage_minute",
    metadata,
    sa.Column("minute", sa.BigInteger, nullable=False),
    sa.Column("key_id", sa.String(128), nullable=False),
    sa.Column("team", sa.String(128), nullable=False),
    sa.Column("provider", sa.String(64), nullable=False),
    sa.Column("model", sa.String(256), nullable=False),
    *(sa.Column(name, sa.BigInteger, nullable=False, server_default="0") for name in ROLLUP_SUMS),
    sa.PrimaryKeyConstraint(*ROLLUP_KEYS, name="pk_usage_minute"),
    sa.Index("ix_usage_minute_provider_model", "provider", "model", "minute"),
    sa.Index("ix_usage_minute_key", "key_id", "minute"),
    sa.Index("ix_usage_minute_team", "team", "minute"),
)
