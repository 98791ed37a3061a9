"""The metrics service's errors, as `GatewayError`s (a servicer raises them; the
kernel's error interceptor turns them into statuses)."""

from __future__ import annotations

import grpc

from services.kernel.errors import GatewayError

__all__ = ["database_unavailable", "invalid_argument", "usage_from_routers_only"]


def invalid_argument(message: str, *, param: str | None = None) -> GatewayError:
    return GatewayError(
        status=grpc.StatusCode.INVALID_ARGUMENT,
        code="invalid_argument",
        message=message,
        param=param,
    )


def usage_from_routers_only() -> GatewayError:
    """Usage events (what is billed) come from routers; other workloads send health."""
    return GatewayError(
        status=grpc.StatusCode.PERMISSION_DENIED,
        code="usage_from_routers_only",
        message="only routers may record usage events; send health reports without events",
    )


def database_unavailable() -> GatewayError:
    """The database refused or dropped the connection; the batch was not stored
    (its transaction rolled back), so the sender retries it."""
    return GatewayError(
        status=grpc.StatusCode.UNAVAILABLE,
        code="metrics_database_unavailable",
        message="the usage database is unavailable; retry the batch (it was not stored)",
        retryable=True,
        retry_after_s=1.0,
    )
