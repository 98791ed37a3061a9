"""The errors of resolving a call's provider key (canonical GatewayErrors)."""

from __future__ import annotations

import grpc

from services.kernel.errors import GatewayError

__all__ = ["credential_not_found", "no_usable_key"]


def credential_not_found(provider: str, credential_id: str) -> GatewayError:
    return GatewayError(
        status=grpc.StatusCode.FAILED_PRECONDITION,
        code="credential_not_found",
        message=f"Provider {provider!r} holds no credential {credential_id!r} on this instance.",
        http_status=502,
        metadata={"provider": provider},
    )


def no_usable_key(provider: str, pool: str, keys: int) -> GatewayError:
    """Every leased key of the pool is disabled (same code as an unset key: the router
    fails over to another deployment, and an operator must act)."""
    where = f"pool {pool!r}" if pool else "its default pool"
    return GatewayError(
        status=grpc.StatusCode.FAILED_PRECONDITION,
        code="provider_not_configured",
        message=f"Provider {provider!r} has no usable key in {where}: all {keys} are disabled; "
        "an operator must fix or add a provider key in the key vault.",
        http_status=502,
        metadata={"provider": provider},
    )
