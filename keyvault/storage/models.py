"""Tables of the key vault. Secrets are never stored in plaintext: client keys as an
HMAC digest, provider keys as AES-256-GCM ciphertext under a wrapped data key."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "AuditEventRow",
    "Base",
    "ClientKeyRow",
    "ProviderKeyRow",
    "ProviderKeyUsageRow",
    "RoutingConfigRow",
    "UtcDateTime",
    "VersionRow",
    "WrappedSecretRow",
]

_NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in Python, naive UTC in the database (same on SQLite and PostgreSQL)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UtcDateTime needs an aware datetime")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=_NAMING)


class VersionRow(Base):
    """A change counter per snapshot feed ("client_keys", "provider_keys", "routing_config")."""

    __tablename__ = "kv_versions"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


class WrappedSecretRow(Base):
    """A vault-internal secret (the client-key hash key), envelope-encrypted."""

    __tablename__ = "kv_wrapped_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    kek_id: Mapped[str] = mapped_column(String(500))
    wrapped_dek: Mapped[bytes] = mapped_column(LargeBinary)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    create_time: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class ClientKeyRow(Base):
    __tablename__ = "client_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16))
    secret_digest: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))
    # JSON array of model names or aliases; "[]" = all.
    allowed_models: Mapped[str] = mapped_column(Text, default="[]")
    # JSON array of governed pass-through parameters the key may send; "[]" = none.
    allowed_parameters: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")
    owner: Mapped[str] = mapped_column(String(200), default="")
    team: Mapped[str] = mapped_column(String(200), default="")
    rpm_limit: Mapped[int] = mapped_column(Integer, default=0)
    tpm_limit: Mapped[int] = mapped_column(Integer, default=0)
    # Micro-USD; NULL = no budget.
    budget_micros: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    budget_period: Mapped[str] = mapped_column(String(16), default="")
    bootstrap: Mapped[bool] = mapped_column(Boolean, default=False)
    create_time: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    update_time: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expire_time: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    revoke_time: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


class ProviderKeyRow(Base):
    __tablename__ = "provider_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    provider: Mapped[str] = mapped_column(String(64), index=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    last4: Mapped[str] = mapped_column(String(4))
    weight: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[str] = mapped_column(String(16), index=True)
    secret_version: Mapped[str] = mapped_column(String(500), default="")
    replaced_by: Mapped[str] = mapped_column(String(40), default="")
    # Envelope: AES-256-GCM(dek, secret) + dek wrapped under the KEK named by kek_id.
    kek_id: Mapped[str] = mapped_column(String(500))
    wrapped_dek: Mapped[bytes] = mapped_column(LargeBinary)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    create_time: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    update_time: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    retire_time: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # Health, as reported by the provider service.
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    flag_reason: Mapped[str] = mapped_column(String(500), default="")
    cooldown_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_status: Mapped[int] = mapped_column(Integer, default=0)
    last_outcome_time: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_validate_time: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_validate_result: Mapped[str] = mapped_column(String(16), default="")
    limit_requests: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    remaining_requests: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    limit_tokens: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    remaining_tokens: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    headroom_reset_time: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    headroom_observe_time: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


class ProviderKeyUsageRow(Base):
    """Traffic through one provider key in one hour."""

    __tablename__ = "provider_key_usage"

    key_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    bucket_start: Mapped[dt.datetime] = mapped_column(UtcDateTime, primary_key=True)
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    errors: Mapped[int] = mapped_column(BigInteger, default=0)
    rate_limited: Mapped[int] = mapped_column(BigInteger, default=0)
    prompt_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    completion_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_micros: Mapped[int] = mapped_column(BigInteger, default=0)


class AuditEventRow(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    time: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    actor_key_id: Mapped[str] = mapped_column(String(40))
    actor_name: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    target_id: Mapped[str] = mapped_column(String(40), index=True)
    # JSON object of non-secret details.
    details: Mapped[str] = mapped_column(Text, default="{}")


class RoutingConfigRow(Base):
    """One revision of the router's model-routing config (every revision is kept; the
    highest version is the one in force). The key vault stores the text, never parses it."""

    __tablename__ = "routing_config_revisions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    toml: Mapped[str] = mapped_column(Text)
    update_time: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    # Key id of the admin whose key authorised the change.
    updated_by: Mapped[str] = mapped_column(String(40))
