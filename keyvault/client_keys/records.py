"""Client keys as the key vault holds them (the servicer converts them to and from protos)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from keyvault.actors import Role
from keyvault.client.limits import BudgetPeriod

__all__ = ["ClientKeyRecord", "ClientKeySpec"]


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
    # Governed pass-through parameters this key may send (keyvault.client.parameters).
    allowed_parameters: tuple[str, ...] = ()


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
