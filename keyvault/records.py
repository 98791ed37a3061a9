"""Domain records of the key vault (the servicer converts them to and from protos)."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field

__all__ = [
    "Actor",
    "BudgetPeriod",
    "ClientKeyRecord",
    "ClientKeySpec",
    "Headroom",
    "ProviderKeyRecord",
    "ProviderKeyState",
    "Role",
    "utcnow",
]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Role(enum.StrEnum):
    CLIENT = "client"
    VIEWER = "viewer"
    ADMIN = "admin"
    # Internal actors, never a key's role.
    SERVICE = "service"
    SYSTEM = "system"


class BudgetPeriod(enum.StrEnum):
    NONE = ""
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    TOTAL = "total"


class ProviderKeyState(enum.StrEnum):
    ACTIVE = "active"
    COOLING_DOWN = "cooling_down"
    DISABLED = "disabled"
    RETIRED = "retired"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change, for authorisation and the audit log."""

    key_id: str
    name: str
    role: Role


SYSTEM_ACTOR = Actor("system", "key vault", Role.SYSTEM)


@dataclass(frozen=True, slots=True)
class ClientKeySpec:
    """What an admin sets on a client key."""

    name: str = ""
    role: Role = Role.CLIENT
    allowed_models: tuple[str, ...] = ()
    expire_time: dt.datetime | None = None
    owner: str = ""
    team: str = ""
    rpm_limit: int = 0
    tpm_limit: int = 0
    budget_micros: int | None = None
    budget_period: BudgetPeriod = BudgetPeriod.NONE


@dataclass(frozen=True, slots=True)
class ClientKeyRecord:
    key_id: str
    prefix: str
    secret_digest: bytes = field(repr=False)
    spec: ClientKeySpec
    create_time: dt.datetime
    update_time: dt.datetime
    revoke_time: dt.datetime | None = None
    bootstrap: bool = False

    @property
    def revoked(self) -> bool:
        return self.revoke_time is not None

    def expired(self, now: dt.datetime) -> bool:
        expire = self.spec.expire_time
        return expire is not None and expire <= now


@dataclass(frozen=True, slots=True)
class Headroom:
    """Rate-limit state captured from a provider's response headers."""

    limit_requests: int | None = None
    remaining_requests: int | None = None
    limit_tokens: int | None = None
    remaining_tokens: int | None = None
    reset_time: dt.datetime | None = None
    observe_time: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class ProviderKeyRecord:
    key_id: str
    provider: str
    label: str
    last4: str
    weight: int
    state: ProviderKeyState
    create_time: dt.datetime
    update_time: dt.datetime
    retire_time: dt.datetime | None = None
    secret_version: str = ""
    replaced_by: str = ""
    flagged: bool = False
    flag_reason: str = ""
    cooldown_until: dt.datetime | None = None
    last_status: int = 0
    last_outcome_time: dt.datetime | None = None
    last_validate_time: dt.datetime | None = None
    last_validate_result: str = ""
    headroom: Headroom = Headroom()
