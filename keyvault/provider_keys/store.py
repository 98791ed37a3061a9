"""Provider keys: several per provider, each envelope-encrypted at rest, with a weight and
a state; rotation without downtime. A stored secret is never returned by an admin RPC:
only id, label, last four (decrypted keys leave only through `lease`)."""

from __future__ import annotations

import builtins
import datetime as dt
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyvault import errors
from keyvault.actors import Actor
from keyvault.audit import log as audit
from keyvault.crypto.envelope import Envelope, Sealed
from keyvault.crypto.imports import ImportPolicy
from keyvault.crypto.secret_manager import SecretReader
from keyvault.provider_keys.records import Headroom, ProviderKeyRecord, ProviderKeyState
from keyvault.storage import versions
from keyvault.storage.database import Database
from keyvault.storage.models import ProviderKeyRow
from keyvault.times import utcnow

__all__ = ["ProviderKeyStore", "context_for", "record_of", "sealed_of"]

_PROVIDER_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_MAX_SECRET = 8192
_MAX_WEIGHT = 1_000_000
UPDATABLE = frozenset({"label", "weight", "state", "retire_time"})
_SETTABLE_STATES = (ProviderKeyState.ACTIVE, ProviderKeyState.DISABLED, ProviderKeyState.RETIRED)


def context_for(key_id: str) -> bytes:
    return b"agentopia/provider-key/" + key_id.encode()


def record_of(row: ProviderKeyRow) -> ProviderKeyRecord:
    return ProviderKeyRecord(
        key_id=row.id,
        provider=row.provider,
        label=row.label,
        last4=row.last4,
        weight=row.weight,
        state=ProviderKeyState(row.state),
        create_time=row.create_time,
        update_time=row.update_time,
        retire_time=row.retire_time,
        secret_version=row.secret_version,
        replaced_by=row.replaced_by,
        flagged=row.flagged,
        flag_reason=row.flag_reason,
        cooldown_until=row.cooldown_until,
        last_status=row.last_status,
        last_outcome_time=row.last_outcome_time,
        last_validate_time=row.last_validate_time,
        last_validate_result=row.last_validate_result,
        headroom=Headroom(
            limit_requests=row.limit_requests,
            remaining_requests=row.remaining_requests,
            limit_tokens=row.limit_tokens,
            remaining_tokens=row.remaining_tokens,
            reset_time=row.headroom_reset_time,
            observe_time=row.headroom_observe_time,
        ),
    )


def sealed_of(row: ProviderKeyRow) -> Sealed:
    return Sealed(row.kek_id, row.wrapped_dek, row.nonce, row.ciphertext)


def _check_secret(secret: str) -> str:
    secret = secret.strip()
    if not secret:
        raise errors.invalid_argument("give the key as secret or secret_version", "secret")
    if len(secret) > _MAX_SECRET or len(secret) < 8:
        raise errors.invalid_argument("the secret must be 8 to 8192 characters long", "secret")
    return secret


def _check_weight(weight: int) -> int:
    if not 0 <= weight <= _MAX_WEIGHT:
        raise errors.invalid_argument(f"weight must be between 0 and {_MAX_WEIGHT}", "weight")
    return weight


def _check_changes(changes: Mapping[str, Any]) -> None:
    if not changes or set(changes) - UPDATABLE:
        raise errors.invalid_argument(
            "update_mask must name some of: " + ", ".join(sorted(UPDATABLE)), "update_mask"
        )
    if "weight" in changes:
        _check_weight(changes["weight"])
    if len(str(changes.get("label", ""))) > 200:
        raise errors.invalid_argument("label is longer than 200 characters", "label")
    if "state" in changes and changes["state"] not in _SETTABLE_STATES:
        raise errors.invalid_argument("state may be set to ACTIVE, DISABLED or RETIRED", "state")


def _set_state(row: ProviderKeyRow, state: ProviderKeyState, now: dt.datetime) -> None:
    """ACTIVE re-enables (clearing the flag and any cool-down); RETIRED is final."""
    row.state = state.value
    if state is ProviderKeyState.ACTIVE:
        row.flagged, row.flag_reason, row.cooldown_until = False, "", None
    elif state is ProviderKeyState.RETIRED:
        row.retire_time = row.retire_time or now


class ProviderKeyStore:
    def __init__(
        self,
        db: Database,
        envelope: Envelope,
        on_change: Callable[[], Awaitable[None]],
        secret_reader: SecretReader | None = None,
        import_policy: ImportPolicy | None = None,
    ) -> None:
        self._db = db
        self._envelope = envelope
        self._on_change = on_change
        self._reader = secret_reader
        self._import_policy = import_policy or ImportPolicy()

    async def _resolve(self, secret: str, secret_version: str) -> tuple[str, str]:
        """(secret, resolved Secret Manager version or "")."""
        if not secret_version:
            return _check_secret(secret), ""
        if secret:
            raise errors.invalid_argument("give secret or secret_version, not both", "secret")
        if self._reader is None:
            raise errors.failed_precondition(
                "secret_manager_not_configured",
                "secret_version needs Secret Manager: set AGENTOPIA_KEK_SOURCE=secret-manager "
                "(or AGENTOPIA_SECRET_MANAGER_ENDPOINT) on the key vault.",
            )
        self._import_policy.check(secret_version)
        try:
            name, payload = await self._reader.access(secret_version)
        except Exception as error:
            raise errors.failed_precondition(
                "secret_version_unreadable",
                f"Secret Manager could not read {secret_version!r} ({type(error).__name__}); "
                "check the name and the key vault's access to it.",
            ) from None
        return _check_secret(payload.decode("utf-8", errors="strict")), name

    def _new_row(
        self, *, provider: str, label: str, secret: str, version: str, weight: int
    ) -> ProviderKeyRow:
        key_id = "pkey_" + secrets.token_hex(12)
        sealed = self._envelope.seal(secret.encode(), context=context_for(key_id))
        now = utcnow()
        return ProviderKeyRow(
            id=key_id, provider=provider, label=label, last4=secret[-4:], weight=weight,
            state=ProviderKeyState.ACTIVE.value, secret_version=version, replaced_by="",
            kek_id=sealed.kek_id, wrapped_dek=sealed.wrapped_dek, nonce=sealed.nonce,
            ciphertext=sealed.ciphertext, create_time=now, update_time=now, flagged=False,
            flag_reason="", last_status=0, last_validate_result="",
        )  # fmt: skip

    async def _change(self, work: Callable[[Session], ProviderKeyRecord]) -> ProviderKeyRecord:
        return await versions.commit(self._db, versions.PROVIDER_KEYS, work, self._on_change)

    async def create(
        self,
        actor: Actor,
        *,
        provider: str,
        label: str = "",
        secret: str = "",
        secret_version: str = "",
        weight: int = 1,
    ) -> ProviderKeyRecord:
        if not _PROVIDER_NAME.match(provider):
            raise errors.invalid_argument(
                "provider must be a registered provider name (lower case, as ListProviders "
                "names it)",
                "provider",
            )
        if len(label) > 200:
            raise errors.invalid_argument("label is longer than 200 characters", "label")
        plain, version = await self._resolve(secret, secret_version)
        row = self._new_row(
            provider=provider,
            label=label,
            secret=plain,
            version=version,
            weight=_check_weight(weight),
        )

        def work(session: Session) -> ProviderKeyRecord:
            session.add(row)
            details = {"provider": provider, "label": label, "weight": weight, "last4": row.last4}
            if version:
                details["secret_version"] = version
            audit.record(session, actor, "provider_key.create", row.id, details)
            return record_of(row)

        return await self._change(work)

    async def list(
        self, *, provider: str = "", include_retired: bool = False
    ) -> builtins.list[ProviderKeyRecord]:
        def query(session: Session) -> builtins.list[ProviderKeyRecord]:
            stmt = select(ProviderKeyRow).order_by(ProviderKeyRow.create_time, ProviderKeyRow.id)
            if provider:
                stmt = stmt.where(ProviderKeyRow.provider == provider)
            if not include_retired:
                stmt = stmt.where(ProviderKeyRow.state != ProviderKeyState.RETIRED.value)
            return [record_of(row) for row in session.scalars(stmt)]

        return await self._db.read(query)

    async def get(self, key_id: str) -> ProviderKeyRecord:
        def query(session: Session) -> ProviderKeyRecord | None:
            row = session.get(ProviderKeyRow, key_id)
            return None if row is None else record_of(row)

        record = await self._db.read(query)
        if record is None:
            raise errors.not_found("provider_key", key_id)
        return record

    async def update(
        self, actor: Actor, key_id: str, changes: Mapping[str, Any]
    ) -> ProviderKeyRecord:
        _check_changes(changes)

        def work(session: Session) -> ProviderKeyRecord:
            row = self._row(session, key_id, lock=True)
            if row.state == ProviderKeyState.RETIRED.value:
                raise errors.failed_precondition(
                    "provider_key_retired", "A retired key cannot change; add a new key instead."
                )
            now = utcnow()
            if "label" in changes:
                row.label = str(changes["label"])
            if "weight" in changes:
                row.weight = int(changes["weight"])
            if "retire_time" in changes:
                row.retire_time = changes["retire_time"]
            if "state" in changes:
                _set_state(row, changes["state"], now)
            row.update_time = now
            shown = {k: (v.value if hasattr(v, "value") else v) for k, v in changes.items()}
            audit.record(session, actor, "provider_key.update", key_id, shown)
            return record_of(row)

        return await self._change(work)

    async def delete(self, actor: Actor, key_id: str) -> None:
        def work(session: Session) -> ProviderKeyRecord:
            row = self._row(session, key_id)
            record = record_of(row)
            session.delete(row)
            audit.record(session, actor, "provider_key.delete", key_id, {"provider": row.provider})
            return record

        await self._change(work)

    async def rotate(
        self,
        actor: Actor,
        key_id: str,
        *,
        secret: str = "",
        secret_version: str = "",
        overlap: dt.timedelta,
        label: str = "",
    ) -> tuple[ProviderKeyRecord, ProviderKeyRecord]:
        """Add the replacement (taking traffic at once); the old key becomes a fallback
        until `overlap` has passed, then the sweeper retires it. Returns (new, old)."""
        old = await self.get(key_id)
        if old.state is ProviderKeyState.RETIRED:
            raise errors.failed_precondition(
                "provider_key_retired", "This key is already retired; rotate its replacement."
            )
        if not secret and not secret_version:
            if not old.secret_version:
                raise errors.invalid_argument(
                    "give the new key as secret or secret_version", "secret"
                )
            secret_version = old.secret_version.rpartition("/versions/")[0] + "/versions/latest"
        plain, version = await self._resolve(secret, secret_version)
        new_row = self._new_row(
            provider=old.provider, label=label or old.label, secret=plain, version=version,
            weight=old.weight,
        )  # fmt: skip

        def work(session: Session) -> ProviderKeyRecord:
            row = self._row(session, key_id)
            now = utcnow()
            session.add(new_row)
            row.replaced_by, row.update_time = new_row.id, now
            row.retire_time = now + overlap
            if overlap <= dt.timedelta(0):
                row.state = ProviderKeyState.RETIRED.value
            details = {"replaced_by": new_row.id, "overlap_s": overlap.total_seconds()}
            audit.record(session, actor, "provider_key.rotate", key_id, details)
            audit.record(session, actor, "provider_key.create", new_row.id, {"replaces": key_id})
            return record_of(row)

        old_record = await self._change(work)
        return record_of(new_row), old_record

    async def rewrap_all(self) -> int:
        """Re-wrap every data key still under an older KEK with the current one."""
        current = self._envelope.current_kek_id

        def stale(session: Session) -> builtins.list[tuple[str, Sealed]]:
            stmt = select(ProviderKeyRow).where(ProviderKeyRow.kek_id != current)
            return [(row.id, sealed_of(row)) for row in session.scalars(stmt)]

        rewrapped = 0
        for key_id, sealed in await self._db.read(stale):
            fresh = await self._envelope.rewrap(sealed, context=context_for(key_id))

            def store(session: Session, key_id: str = key_id, fresh: Sealed = fresh) -> None:
                row = session.get(ProviderKeyRow, key_id)
                if row is not None and row.kek_id != current:
                    row.kek_id, row.wrapped_dek = fresh.kek_id, fresh.wrapped_dek

            await self._db.write(store)
            rewrapped += 1
        return rewrapped

    @staticmethod
    def _row(session: Session, key_id: str, *, lock: bool = False) -> ProviderKeyRow:
        row = session.get(ProviderKeyRow, key_id, with_for_update=lock)
        if row is None:
            raise errors.not_found("provider_key", key_id)
        return row
