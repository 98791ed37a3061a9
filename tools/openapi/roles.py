"""The key each REST route needs. The key vault declares its methods' access as
data (`ACCESS` on each servicer), read here; the router's and the metrics
service's admin APIs check `require_role(write=...)` in code, listed here beside
them. The generator fails for a routed RPC with no entry, so a new route cannot
go out without its role."""

from __future__ import annotations

import enum
from collections.abc import Mapping

from keyvault.audit.servicer import AuditServicer
from keyvault.client_keys.servicer import ClientKeyServicer
from keyvault.provider_keys.servicer import ProviderKeyServicer

__all__ = ["Role", "role_of"]


class Role(enum.Enum):
    """The keys a route accepts: ANY a key's own record, CLIENT inference (client and
    admin keys), VIEWER admin reads (viewer and admin keys), ADMIN admin writes."""

    ANY = "any"
    CLIENT = "client"
    VIEWER = "viewer"
    ADMIN = "admin"

    @property
    def sentence(self) -> str:
        return {
            Role.ANY: "Any valid key (client, viewer or admin), for itself.",
            Role.CLIENT: (
                "A client or admin key (viewer keys are read-only: 403 `role_not_allowed`)."
            ),
            Role.VIEWER: "A viewer or admin key (client keys get 403 `admin_key_required`).",
            Role.ADMIN: "An admin key (viewer and client keys get 403 `admin_key_required`).",
        }[self]


_KEYVAULT = {
    "agentopia.v1.ClientKeyService": ClientKeyServicer.ACCESS,
    "agentopia.v1.ProviderKeyService": ProviderKeyServicer.ACCESS,
    "agentopia.v1.AuditService": AuditServicer.ACCESS,
}
# By value: `self` is a key reading its own record (GetCallerKey).
_BY_ACCESS = {"read": Role.VIEWER, "write": Role.ADMIN, "self": Role.ANY}

# services/router/admin_servicer.py (`_caller(write=...)`), metrics/servicer.py
# (every report is a read), and the inference surfaces (any valid key).
_DECLARED: Mapping[str, Role] = {
    "agentopia.v1.RoutingAdminService/GetRoutingConfig": Role.VIEWER,
    "agentopia.v1.RoutingAdminService/UpdateRoutingConfig": Role.ADMIN,
    "agentopia.v1.RoutingAdminService/ValidateRoutingConfig": Role.VIEWER,
    "agentopia.v1.RoutingAdminService/ListDeploymentHealth": Role.VIEWER,
    "agentopia.v1.MetricsService/*": Role.VIEWER,
    "agentopia.v1.OpenAICompatService/*": Role.CLIENT,
    "agentopia.v1.InferenceService/*": Role.CLIENT,
    "agentopia.v1.MessagesService/*": Role.CLIENT,
}


def role_of(service: str, method: str) -> Role | None:
    """The role a routed RPC needs; None when nothing declares it."""
    access = _KEYVAULT.get(service, {}).get(method)
    if access is not None:
        return _BY_ACCESS.get(access.value)
    return _DECLARED.get(f"{service}/{method}") or _DECLARED.get(f"{service}/*")
