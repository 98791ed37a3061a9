"""Per-call helpers shared by both public servicers: request ids and response headers."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import grpc

from keyvault.client.keycache import Principal
from services.kernel.errors import GatewayError
from services.router.routing import REQUIREMENTS_HEADER
from services.router.routing.catalog import ModelCatalog

__all__ = [
    "Metadata",
    "internal_error",
    "model_or_404",
    "request_id_from",
    "requirements_header",
    "response_headers",
]

Metadata = Sequence[tuple[str, str | bytes]]


def request_id_from(metadata: Metadata) -> str:
    """The edge's x-request-id when present (one id across all hops), else a new one."""
    for key, value in metadata:
        if key == "x-request-id" and isinstance(value, str) and 0 < len(value) <= 128:
            return value
    return uuid.uuid4().hex


def response_headers(request_id: str, route: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """Initial metadata (HTTP response headers at the edge): request id and the routing decision."""
    return (("x-request-id", request_id), *route.items())


def requirements_header(metadata: Metadata) -> str | None:
    for key, value in metadata:
        if key == REQUIREMENTS_HEADER and isinstance(value, str):
            return value
    return None


def model_or_404(catalog: ModelCatalog, model_id: str, principal: Principal) -> dict[str, Any]:
    """GET /v1/models/{id}: the model object, or OpenAI's 404 for it."""
    model = catalog.get_model(model_id, principal)
    if model is None:
        raise GatewayError(
            grpc.StatusCode.NOT_FOUND,
            "model_not_found",
            f"The model '{model_id}' does not exist or you do not have access to it.",
            param="model",
            type="invalid_request_error",
        )
    return model


def internal_error(request_id: str) -> GatewayError:
    return GatewayError(
        grpc.StatusCode.INTERNAL,
        "internal_error",
        f"The gateway failed unexpectedly; quote request id {request_id} when reporting it.",
    )
