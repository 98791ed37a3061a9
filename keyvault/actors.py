"""Who acts on the key vault: the caller of an RPC or the key vault itself, as the
audit log records them, and how a role is spelled on the wire (`KeyRole`)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from agentopia.v1 import keyvault_types_pb2 as kv_types

__all__ = ["ROLE_FROM_PROTO", "ROLE_TO_PROTO", "SYSTEM_ACTOR", "Actor", "Role"]


class Role(enum.StrEnum):
    CLIENT = "client"
    VIEWER = "viewer"
    ADMIN = "admin"
    # Internal actors, never a key's role.
    SERVICE = "service"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change, for authorisation and the audit log."""

    key_id: str
    name: str
    role: Role


SYSTEM_ACTOR = Actor("system", "key vault", Role.SYSTEM)

# The roles a key can have (internal actors have no proto spelling).
ROLE_TO_PROTO = {
    Role.CLIENT: kv_types.KEY_ROLE_CLIENT,
    Role.VIEWER: kv_types.KEY_ROLE_VIEWER,
    Role.ADMIN: kv_types.KEY_ROLE_ADMIN,
}
ROLE_FROM_PROTO = {v: k for k, v in ROLE_TO_PROTO.items()}
