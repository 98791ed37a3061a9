"""Client keys: created by an admin and shown once, stored only as a keyed hash, scoped,
limited, budgeted, revocable. Every change bumps the client-key version (so every
watcher gets a new snapshot) and lands in the audit log, in one transaction."""

from __future__ import annotations

import builtins
import dataclasses
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from keyvault import errors
from keyvault.actors import SYSTEM_ACTOR, Actor, Role
from keyvault.audit import log as audit
from keyvault.client.limits import BudgetPeriod
from keyvault.client.parameters import GOVERNED_PARAMETERS
from keyvault.client_keys.hash_key import digest
from keyvault.client_keys.records import ClientKeyRecord, ClientKeySpec
from keyvault.storage import versions
from keyvault.storage.database import Database
from keyvault.storage.models import ClientKeyRow
from keyvault.times import utcnow

__all__ = [
    "SECRET_PREFIX",
    "ClientKeyStore",
    "new_secret",
    "read_all",
    "shown_prefix",
    "validate_spec",
]

SECRET_PREFIX = "sk-agp-"  # noqa: S105 - a public prefix, not a secret
# How much of a key's secret part is stored and shown (to tell keys apart): 4
# characters. A key's secret is at least 32 random characters (bootstrap keys are
# refused otherwise; generated ones have 43 url-safe characters, 256 bits), so at
# least 28 stay unknown — 168 bits even for the bootstrap key, far beyond any brute
# force — and 4 characters still tell a handful of an owner's keys apart.
_SHOWN_SECRET_CHARS = 4
_MAX_TEXT = 200
_MAX_MODELS = 200
UPDATABLE = frozenset(
    {
        "name",
        "role",
        "allowed_models",
        "expire_time",
        "owner",
        "team",
        "rpm_limit",
        "tpm_limit",
        "budget_micros",
        "budget_period",
        "allowed_parameters",
    }
)


def shown_prefix(secret: str) -> str:
    """The public prefix plus the first few secret characters (see above)."""
    public = SECRET_PREFIX if secret.startswith(SECRET_PREFIX) else ""
    return secret[: len(public) + _SHOWN_SECRET_CHARS]


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def new_key_id() -> str:
    return "key_" + secrets.token_hex(12)


def validate_spec(spec: ClientKeySpec) -> ClientKeySpec:
    """Check an admin's input; fill defaults (a budget without a period is monthly)."""
    for param, text in (("name", spec.name), ("owner", spec.owner), ("team", spec.team)):
        if len(text) > _MAX_TEXT:
            raise errors.invalid_argument(f"{param} is longer than {_MAX_TEXT} characters", param)
    if spec.role not in (Role.CLIENT, Role.VIEWER, Role.ADMIN):
        raise errors.invalid_argument("role must be client, viewer or admin", "role")
    if len(spec.allowed_models) > _MAX_MODELS or any(
        not m or len(m) > _MAX_TEXT for m in spec.allowed_models
    ):
        raise errors.invalid_argument(
            f"allowed_models takes at most {_MAX_MODELS} non-empty names", "allowed_models"
        )
    unknown = sorted(set(spec.allowed_parameters) - set(GOVERNED_PARAMETERS))
    if unknown:
        raise errors.invalid_argument(
            f"allowed_parameters takes {', '.join(GOVERNED_PARAMETERS)}; got {unknown[0]!r}",
            "allowed_parameters",
        )
    if spec.rpm_limit < 0 or spec.tpm_limit < 0:
        raise errors.invalid_argument("rpm_limit and tpm_limit must be 0 (unlimited) or more")
    if spec.budget_micros is not None and spec.budget_period == BudgetPeriod.NONE:
        spec = dataclasses.replace(spec, budget_period=BudgetPeriod.MONTHLY)
    return dataclasses.replace(
        spec,
        allowed_models=tuple(dict.fromkeys(spec.allowed_models)),
        allowed_parameters=tuple(sorted(set(spec.allowed_parameters))),
    )


def _record(row: ClientKeyRow) -> ClientKeyRecord:
    return ClientKeyRecord(
        key_id=row.id,
        prefix=row.prefix,
        secret_digest=row.secret_digest,
        spec=ClientKeySpec(
            name=row.name,
            role=Role(row.role),
            allowed_models=tuple(orjson.loads(row.allowed_models)),
            expire_time=row.expire_time,
            owner=row.owner,
            team=row.team,
            rpm_limit=row.rpm_limit,
            tpm_limit=row.tpm_limit,
            budget_micros=row.budget_micros,
            budget_period=BudgetPeriod(row.budget_period),
            allowed_parameters=tuple(orjson.loads(row.allowed_parameters or "[]")),
        ),
        create_time=row.create_time,
        update_time=row.update_time,
        revoke_time=row.revoke_time,
        bootstrap=row.bootstrap,
    )


def _apply_spec(row: ClientKeyRow, spec: ClientKeySpec) -> None:
    row.name, row.role, row.owner, row.team = spec.name, spec.role.value, spec.owner, spec.team
    row.allowed_models = orjson.dumps(list(spec.allowed_models)).decode()
    row.allowed_parameters = orjson.dumps(list(spec.allowed_parameters)).decode()
    row.expire_time = spec.expire_time
    row.rpm_limit, row.tpm_limit = spec.rpm_limit, spec.tpm_limit
    row.budget_micros, row.budget_period = spec.budget_micros, spec.budget_period.value


def _summary(spec: ClientKeySpec) -> dict[str, object]:
    """What the audit log keeps about a key's settings (no secrets exist in a spec)."""
    return {
        "name": spec.name,
        "role": spec.role.value,
        "allowed_models": ",".join(spec.allowed_models),
        "allowed_parameters": ",".join(spec.allowed_parameters),
        "expire_time": spec.expire_time.isoformat() if spec.expire_time else "",
        "rpm_limit": spec.rpm_limit,
        "tpm_limit": spec.tpm_limit,
        "budget_micros": "" if spec.budget_micros is None else spec.budget_micros,
        "budget_period": spec.budget_period.value,
        "owner": spec.owner,
        "team": spec.team,
    }


class ClientKeyStore:
    def __init__(
        self, db: Database, hash_key: bytes, on_change: Callable[[], Awaitable[None]]
    ) -> None:
        self._db = db
        self._hash_key = hash_key
        self._on_change = on_change

    @property
    def hash_key(self) -> bytes:
        return self._hash_key

    async def _change(self, work: Callable[[Session], ClientKeyRecord]) -> ClientKeyRecord:
        return await versions.commit(self._db, versions.CLIENT_KEYS, work, self._on_change)

    async def create(self, actor: Actor, spec: ClientKeySpec) -> tuple[ClientKeyRecord, str]:
        spec = validate_spec(spec)
        if spec.expire_time is not None and spec.expire_time <= utcnow():
            raise errors.invalid_argument("expire_time must be in the future", "expire_time")
        secret = new_secret()

        def work(session: Session) -> ClientKeyRecord:
            now = utcnow()
            row = ClientKeyRow(
                id=new_key_id(),
                prefix=shown_prefix(secret),
                secret_digest=digest(self._hash_key, secret),
                bootstrap=False,
                create_time=now,
                update_time=now,
            )
            _apply_spec(row, spec)
            session.add(row)
            session.flush()
            audit.record(session, actor, "client_key.create", row.id, _summary(spec))
            return _record(row)

        return await self._change(work), secret

    async def list(self, *, include_revoked: bool) -> builtins.list[ClientKeyRecord]:
        def query(session: Session) -> list[ClientKeyRecord]:
            stmt = select(ClientKeyRow).order_by(ClientKeyRow.create_time, ClientKeyRow.id)
            if not include_revoked:
                stmt = stmt.where(ClientKeyRow.revoke_time.is_(None))
            return [_record(row) for row in session.scalars(stmt)]

        return await self._db.read(query)

    async def get(self, key_id: str) -> ClientKeyRecord:
        row = await self._db.read(lambda s: _maybe(s.get(ClientKeyRow, key_id)))
        if row is None:
            raise errors.not_found("client_key", key_id)
        return row

    async def update(
        self, actor: Actor, key_id: str, changes: Mapping[str, Any]
    ) -> ClientKeyRecord:
        unknown = set(changes) - UPDATABLE
        if unknown:
            raise errors.invalid_argument(
                f"cannot update {', '.join(sorted(unknown))}; updatable: "
                + ", ".join(sorted(UPDATABLE)),
                "update_mask",
            )
        if not changes:
            raise errors.invalid_argument("update_mask names no field to change", "update_mask")

        def work(session: Session) -> ClientKeyRecord:
            # Read, merge and write in one transaction (row lock on PostgreSQL, the
            # writer lock on SQLite), so concurrent updates of other fields survive.
            row = session.get(ClientKeyRow, key_id, with_for_update=True)
            if row is None:
                raise errors.not_found("client_key", key_id)
            spec = validate_spec(dataclasses.replace(_record(row).spec, **changes))
            _apply_spec(row, spec)
            row.update_time = utcnow()
            summary = _summary(spec)
            audit.record(
                session,
                actor,
                "client_key.update",
                key_id,
                {k: summary[k] for k in sorted(changes)},
            )
            return _record(row)

        return await self._change(work)

    async def revoke(self, actor: Actor, key_id: str) -> ClientKeyRecord:
        current = await self.get(key_id)
        if current.revoked:
            return current

        def work(session: Session) -> ClientKeyRecord:
            row = session.get(ClientKeyRow, key_id)
            if row is None:
                raise errors.not_found("client_key", key_id)
            row.revoke_time = row.update_time = utcnow()
            audit.record(session, actor, "client_key.revoke", key_id, {"name": row.name})
            return _record(row)

        return await self._change(work)

    async def delete(self, actor: Actor, key_id: str) -> ClientKeyRecord:
        def work(session: Session) -> ClientKeyRecord:
            row = session.get(ClientKeyRow, key_id)
            if row is None:
                raise errors.not_found("client_key", key_id)
            record = _record(row)
            session.delete(row)
            audit.record(session, actor, "client_key.delete", key_id, {"name": row.name})
            return record

        return await self._change(work)

    async def upsert_bootstrap(self, secret: str) -> ClientKeyRecord:
        """Make `secret` (AGENTOPIA_ADMIN_KEY) a valid admin key; a no-op when it already is."""
        wanted = digest(self._hash_key, secret)

        def work(session: Session) -> tuple[ClientKeyRecord, bool]:
            row = session.scalar(select(ClientKeyRow).where(ClientKeyRow.bootstrap.is_(True)))
            now = utcnow()
            if row is None:
                row = ClientKeyRow(
                    id=new_key_id(), bootstrap=True, create_time=now, update_time=now,
                    prefix=shown_prefix(secret), secret_digest=wanted,
                )  # fmt: skip
                _apply_spec(row, ClientKeySpec(name="bootstrap admin", role=Role.ADMIN))
                session.add(row)
            elif (row.secret_digest, row.role, row.revoke_time) == (wanted, "admin", None):
                return _record(row), False
            else:
                row.secret_digest, row.prefix = wanted, shown_prefix(secret)
                row.role, row.revoke_time, row.update_time = Role.ADMIN.value, None, now
            session.flush()
            audit.record(session, SYSTEM_ACTOR, "client_key.bootstrap", row.id, {"role": "admin"})
            versions.bump(session, versions.CLIENT_KEYS)
            return _record(row), True

        try:
            record, changed = await self._db.write(work)
        except IntegrityError:  # a replica starting at the same moment won the insert
            record, changed = await self._db.write(work)
        if changed:
            await self._on_change()
        return record


def _maybe(row: ClientKeyRow | None) -> ClientKeyRecord | None:
    return None if row is None else _record(row)


async def read_all(db: Database) -> tuple[int, list[ClientKeyRecord]]:
    """The change counter and every key (revoked ones too, so routers can say "revoked"),
    read together for the feed."""

    def query(session: Session) -> tuple[int, list[ClientKeyRecord]]:
        version = versions.current(session, versions.CLIENT_KEYS)
        rows = session.scalars(select(ClientKeyRow).order_by(ClientKeyRow.id))
        return version, [_record(row) for row in rows]

    return await db.read(query)
