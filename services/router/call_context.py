"""Per-call helpers shared by both public servicers: response headers, stated
requirements and the model lookup. The request id is the kernel's
(`services.kernel.interceptor.request_id_of`), the one its INTERNAL errors quote."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import grpc

from keyvault.client.keycache import Principal, bearer_token
from services.kernel.errors import GatewayError
from services.router.routing import REQUIREMENTS_HEADER
from services.router.routing.catalog import ModelCatalog

__all__ = [
    "API_KEY_HEADER",
    "Metadata",
    "client_token",
    "forwarded_headers",
    "model_or_404",
    "requirements_header",
    "response_headers",
]

Metadata = Sequence[tuple[str, str | bytes]]

# The Messages SDKs send the key in this header; `Authorization: Bearer` also works.
API_KEY_HEADER = "x-api-key"


def client_token(metadata: Metadata) -> str | None:
    """The caller's key: `Authorization: Bearer <key>`, else `x-api-key: <key>`. The
    one authentication path (`KeyCache.authenticate`) then judges it."""
    token = bearer_token(metadata)
    if token is not None:
        return token
    for key, value in metadata:
        if key == API_KEY_HEADER and isinstance(value, str):
            return value.strip()
    return None


def forwarded_headers(metadata: Metadata) -> dict[str, str]:
    """A client format's API version and beta-feature headers (`*-version`, `*-beta`,
    not `x-*`), for the adapter of a backend that takes the format as is."""
    return {
        key: value
        for key, value in metadata
        if isinstance(value, str)
        and not key.startswith("x-")
        and key.endswith(("-version", "-beta"))
    }


def response_headers(request_id: str, route: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """Initial metadata (HTTP response headers at the edge): request id and the routing decision."""
    return (("x-request-id", request_id), *route.items())


def requirements_header(metadata: Metadata) -> str | None:
    for key, value in metadata:
        if key == REQUIREMENTS_HEADER and isinstance(value, str):
            return value
    return None


def model_or_404(catalog: ModelCatalog, model_id: str, principal: Principal) -> dict[str, Any]:
    """GET /v1/models/{id}: the model object, or the OpenAI-shaped 404 for it."""
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
