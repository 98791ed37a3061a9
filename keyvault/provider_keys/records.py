"""Provider keys as the key vault holds them (never with their secret: a decrypted key
exists only in a lease snapshot)."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

__all__ = ["Headroom", "ProviderKeyRecord", "ProviderKeyState"]


class ProviderKeyState(enum.StrEnum):
    ACTIVE = "active"
    COOLING_DOWN = "cooling_down"
    DISABLED = "disabled"
    RETIRED = "retired"


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
