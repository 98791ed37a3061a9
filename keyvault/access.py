"""Who may call what. Admin RPCs authenticate the caller's `authorization: Bearer <key>`
from the key vault's own in-memory client-key snapshot (no database read): admin keys
may write, admin and viewer keys may read, client keys are refused with
PERMISSION_DENIED, missing/malformed/unknown/revoked/expired keys with
UNAUTHENTICATED. The provider-key lease and outcome RPCs take the mesh's service
token instead (AGENTOPIA_KEYVAULT_SERVICE_TOKEN), which no admin key can stand in for.
Internal methods (and the lease) also need the caller's workload identity, checked by
the kernel's interceptor against `services.kernel.peers`; the actor is the proven
workload."""

from __future__ import annotations

import enum
import hmac
from collections.abc import Iterable

from keyvault import errors
from keyvault.actors import Actor, Role
from keyvault.client_keys.snapshot import ClientSnapshot
from keyvault.storage.feed import SnapshotFeed
from services.kernel.identity import IdentitySettings, Verifier

__all__ = ["Access", "Guard", "bearer_token"]

_BEARER = "bearer "


class Access(enum.Enum):
    # Internal snapshot of key digests for routers (not routed at the edge).
    INTERNAL = "internal"
    READ = "read"  # admin or viewer key
    WRITE = "write"  # admin key
    # Admin key forwarded by a mesh service (the router's routing-config edits): checked
    # like WRITE, but internal — no REST mapping, refused at the edge.
    FORWARDED_WRITE = "forwarded_write"
    SERVICE = "service"  # the service token (provider service)
    SELF = "self"  # any valid key, reading only itself


def bearer_token(metadata: Iterable[tuple[str, str | bytes]] | None) -> str | None:
    """The token of `authorization: Bearer <token>`; "" when malformed; None when absent."""
    for key, value in metadata or ():
        if key == "authorization":
            if isinstance(value, str) and value[: len(_BEARER)].lower() == _BEARER:
                return value[len(_BEARER) :].strip()
            return ""
    return None


class Guard:
    """Checks a call's credentials against the access its method requires."""

    def __init__(
        self,
        client_keys: SnapshotFeed[ClientSnapshot],
        service_token: str,
        verifier: Verifier | None = None,
    ) -> None:
        self._client_keys = client_keys
        self._service_token = service_token.encode()
        self._verifier = verifier or Verifier(IdentitySettings("keyvault"))

    def check(
        self,
        metadata: Iterable[tuple[str, str | bytes]] | None,
        access: Access,
        context: object = None,
    ) -> Actor:
        if access is Access.INTERNAL:
            return self._workload(metadata, context)
        token = bearer_token(metadata)
        if access is Access.SERVICE:
            return self._check_service(token)
        snapshot = self._client_keys.current
        if snapshot is None:
            raise errors.unavailable(
                "keyvault_starting", "The key vault is starting; retry shortly."
            )
        record = snapshot.directory.authenticate(token)
        role = record.spec.role
        actor = Actor(record.key_id, record.spec.name, role)
        if role is Role.ADMIN or access is Access.SELF:
            return actor
        if role is Role.VIEWER and access is Access.READ:
            return actor
        if role is Role.VIEWER:
            raise errors.permission_denied(
                "admin_key_required", "Viewer keys are read-only; this change needs an admin key."
            )
        raise errors.permission_denied(
            "admin_key_required",
            "Client keys may only call the inference API; the key management API needs an "
            "admin key (or a viewer key to read).",
        )

    def _workload(
        self, metadata: Iterable[tuple[str, str | bytes]] | None, context: object
    ) -> Actor:
        """The proven caller of an internal method. The interceptor has already
        refused callers the call graph does not allow; this names the one it let
        through (and refuses again if this guard is used without it)."""
        if not self._verifier.enforced:
            return Actor("unverified", "mesh (no workload identities configured)", Role.SERVICE)
        name = self._verifier.peer(metadata, context)
        return Actor(name, f"{name} service", Role.SERVICE)

    def _check_service(self, token: str | None) -> Actor:
        if not self._service_token:
            raise errors.permission_denied(
                "service_token_not_configured",
                "Provider keys are leased only to the provider service; set "
                "AGENTOPIA_KEYVAULT_SERVICE_TOKEN on both services.",
            )
        if not token:
            raise errors.unauthenticated(
                "missing_service_token",
                "Send the mesh service token as 'Authorization: Bearer <token>'.",
            )
        if not hmac.compare_digest(token.encode(), self._service_token):
            raise errors.permission_denied(
                "invalid_service_token", "Only the provider service may lease provider keys."
            )
        return Actor("service", "provider service", Role.SERVICE)
