"""The mesh's call graph: which workloads may call each internal RPC.

One table for every service (each server applies the rows of the methods it hosts)
and for the authorization matrix in docs/security.md. A method absent from here is
public: it takes the caller's API key instead. `colocated` runs the router and the
provider service in one process, so it may do what either does.
"""

from __future__ import annotations

from types import MappingProxyType

__all__ = ["INTERNAL_CALLERS", "INTERNAL_SERVICES", "ROUTERS", "WORKLOADS", "callers_of"]

WORKLOADS = ("router", "provider", "keyvault", "metrics", "colocated")
ROUTERS = frozenset({"router", "colocated"})
_PROVIDERS = frozenset({"provider", "colocated"})

INTERNAL_CALLERS = MappingProxyType(
    {
        # The HMAC key and every client key's digest: routers authenticate callers
        # with it, the metrics service its report readers.
        "/agentopia.v1.ClientKeyService/WatchClientKeys": ROUTERS | {"metrics"},
        # Decrypted provider keys and their health: the provider service only.
        "/agentopia.v1.ProviderKeyService/WatchProviderKeys": _PROVIDERS,
        "/agentopia.v1.ProviderKeyService/ReportKeyOutcomes": _PROVIDERS,
        # Routing configuration: routers read it and forward admins' edits.
        "/agentopia.v1.RoutingConfigService/PutRoutingConfig": ROUTERS,
        "/agentopia.v1.RoutingConfigService/WatchRoutingConfig": ROUTERS,
        # Usage and cost: only what a router accounted for is billed; the provider
        # service reports its keys' health through it (events from it are refused).
        "/agentopia.v1.MetricsService/RecordUsage": ROUTERS | {"provider"},
        # Spending provider keys: routers, and the key vault validating a new key.
        "/agentopia.v1.ProviderService/Generate": ROUTERS | {"keyvault"},
        "/agentopia.v1.ProviderService/StreamGenerate": ROUTERS,
        "/agentopia.v1.ProviderService/CountTokens": ROUTERS,
        "/agentopia.v1.ProviderService/ListProviders": ROUTERS,
    }
)

# Services no caller outside the mesh ever reaches: a method added to one and not
# listed above is still internal, open to these workloads only.
INTERNAL_SERVICES = MappingProxyType({"agentopia.v1.ProviderService": ROUTERS})


def callers_of(method: str) -> frozenset[str] | None:
    """Who may call `method` (`/package.Service/Method`); None when it is public."""
    listed = INTERNAL_CALLERS.get(method)
    if listed is not None:
        return listed
    return INTERNAL_SERVICES.get(method.strip("/").partition("/")[0])
