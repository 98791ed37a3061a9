"""The key vault's errors: each a GatewayError with a stable code and a message that
says what to do. None of them ever carries key material."""

from __future__ import annotations

import grpc

from services.kernel.errors import GatewayError

__all__ = [
    "aborted",
    "already_exists",
    "failed_precondition",
    "invalid_argument",
    "not_found",
    "permission_denied",
    "unauthenticated",
    "unavailable",
]


def unauthenticated(code: str, message: str) -> GatewayError:
    return GatewayError(grpc.StatusCode.UNAUTHENTICATED, code, message)


def permission_denied(code: str, message: str) -> GatewayError:
    return GatewayError(grpc.StatusCode.PERMISSION_DENIED, code, message)


def invalid_argument(message: str, param: str | None = None) -> GatewayError:
    return GatewayError(grpc.StatusCode.INVALID_ARGUMENT, "invalid_argument", message, param=param)


def not_found(kind: str, key_id: str) -> GatewayError:
    return GatewayError(
        grpc.StatusCode.NOT_FOUND,
        f"{kind}_not_found",
        f"No {kind.replace('_', ' ')} with id {key_id!r}; list the keys to find the right id.",
        metadata={"key_id": key_id},
    )


def already_exists(message: str) -> GatewayError:
    return GatewayError(grpc.StatusCode.ALREADY_EXISTS, "already_exists", message)


def aborted(code: str, message: str) -> GatewayError:
    return GatewayError(grpc.StatusCode.ABORTED, code, message)


def failed_precondition(code: str, message: str) -> GatewayError:
    return GatewayError(grpc.StatusCode.FAILED_PRECONDITION, code, message)


def unavailable(code: str, message: str) -> GatewayError:
    return GatewayError(
        grpc.StatusCode.UNAVAILABLE, code, message, retryable=True, retry_after_s=1.0
    )
