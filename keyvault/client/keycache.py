"""Caller authentication from an in-memory copy of the key table, for every
service that answers callers (the router's inference APIs, admin and report APIs).

The key vault pushes a full snapshot on connect and after every change
(WatchClientKeys); the router never reads a database on the request path. A
lookup is one HMAC-SHA256 and one dict probe.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

import grpc
from agentopia.v1 import client_key_service_pb2 as kv_pb2
from agentopia.v1 import client_key_service_pb2_grpc as kv_grpc
from agentopia.v1 import keyvault_types_pb2 as kv_types

from keyvault.client.limits import Limits
from services.kernel.errors import GatewayError
from services.kernel.watch import Backoff, follow_forever

__all__ = [
    "KeyCache",
    "Principal",
    "bearer_token",
    "require_inference",
    "require_role",
    "unauthenticated",
]

_log = logging.getLogger(__name__)

_BEARER = "bearer "


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, as the pipeline needs it."""

    key_id: str
    name: str
    role: int
    team: str
    owner: str
    allowed_models: frozenset[str]
    # None when the key has no RPM, TPM or budget limit (no limiter round trip then).
    limits: Limits | None = None
    # Governed pass-through parameters the key may send (keyvault.client.parameters).
    allowed_parameters: frozenset[str] = frozenset()

    def may_use(self, model: str) -> bool:
        return not self.allowed_models or model in self.allowed_models


@dataclass(frozen=True, slots=True)
class _Entry:
    principal: Principal
    revoked: bool
    expires_at: float  # epoch seconds; 0 = never


def unauthenticated(code: str, message: str) -> GatewayError:
    return GatewayError(
        grpc.StatusCode.UNAUTHENTICATED, code, message, type="invalid_request_error"
    )


def require_role(principal: Principal, *, write: bool) -> None:
    """Admin APIs: writes need an admin key, reads an admin or viewer key."""
    allowed = principal.role == kv_types.KEY_ROLE_ADMIN or (
        not write and principal.role == kv_types.KEY_ROLE_VIEWER
    )
    if not allowed:
        raise GatewayError(
            grpc.StatusCode.PERMISSION_DENIED,
            "admin_key_required",
            "This needs an admin key" + ("." if write else " or a viewer key."),
        )


def require_inference(principal: Principal) -> None:
    """Inference spends money: client and admin keys only (viewer keys are read-only)."""
    if principal.role == kv_types.KEY_ROLE_VIEWER:
        raise GatewayError(
            grpc.StatusCode.PERMISSION_DENIED,
            "role_not_allowed",
            "Viewer keys are read-only and cannot call inference; use a client key.",
            type="permission_error",
        )


def _limits_of(key: kv_pb2.ClientKey) -> Limits | None:
    limits = Limits.of(key)
    return None if limits == Limits(period=limits.period) else limits


def bearer_token(metadata: Iterable[tuple[str, str | bytes]] | None) -> str | None:
    """The token of `authorization: Bearer <token>`, or None when absent."""
    for key, value in metadata or ():
        if key == "authorization" and isinstance(value, str):
            if value[: len(_BEARER)].lower() == _BEARER:
                return value[len(_BEARER) :].strip()
            return ""
    return None


class KeyCache:
    """The latest key snapshot; `ready` is set once the first one arrived."""

    def __init__(self) -> None:
        self._hash_key = b""
        self._entries: dict[bytes, _Entry] = {}
        self.version = -1
        self.ready = asyncio.Event()

    def apply(self, snapshot: kv_pb2.WatchClientKeysResponse) -> None:
        entries: dict[bytes, _Entry] = {}
        for record in snapshot.keys:
            key = record.key
            entries[bytes(record.secret_digest)] = _Entry(
                principal=Principal(
                    key_id=key.key_id,
                    name=key.name,
                    role=key.role,
                    team=key.team,
                    owner=key.owner,
                    allowed_models=frozenset(key.allowed_models),
                    limits=_limits_of(key),
                    allowed_parameters=frozenset(key.allowed_parameters),
                ),
                revoked=key.revoked or key.HasField("revoke_time"),
                expires_at=key.expire_time.seconds if key.HasField("expire_time") else 0.0,
            )
        # One assignment each: readers never see a half-applied snapshot.
        self._hash_key = bytes(snapshot.hash_key)
        self._entries = entries
        self.version = snapshot.version
        self.ready.set()

    def authenticate(self, token: str | None) -> Principal:
        if token is None:
            raise unauthenticated(
                "missing_api_key",
                "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.",
            )
        if not token:
            raise unauthenticated(
                "malformed_api_key",
                "The Authorization header must be 'Bearer <key>'.",
            )
        if not self.ready.is_set():
            raise GatewayError(
                grpc.StatusCode.UNAVAILABLE,
                "auth_unavailable",
                "The gateway is starting and cannot check keys yet; retry shortly.",
                retryable=True,
                retry_after_s=1.0,
            )
        digest = hmac.new(self._hash_key, token.encode(), hashlib.sha256).digest()
        entry = self._entries.get(digest)
        if entry is None:
            raise unauthenticated(
                "invalid_api_key", "Incorrect API key provided. Check the key and try again."
            )
        if entry.revoked:
            raise unauthenticated(
                "revoked_api_key", "This API key has been revoked; ask an admin for a new one."
            )
        if entry.expires_at and entry.expires_at <= time.time():
            raise unauthenticated(
                "expired_api_key", "This API key has expired; ask an admin for a new one."
            )
        return entry.principal

    async def follow(self, channel: grpc.aio.Channel, watcher: str) -> None:
        """Apply snapshots forever, reconnecting with capped backoff (≤ 1 s keeps
        "revoked within one second" across key vault restarts)."""
        stub = kv_grpc.ClientKeyServiceStub(channel)

        async def once(backoff: Backoff) -> None:
            call = stub.WatchClientKeys(kv_pb2.WatchClientKeysRequest(watcher=watcher))
            async for snapshot in call:
                self.apply(snapshot)
                backoff.reset()

        await follow_forever("client key watch", once, expected=(grpc.aio.AioRpcError,))
