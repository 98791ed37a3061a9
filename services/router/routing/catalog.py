"""Models as OpenAI model objects for GET /v1/models, filtered by the caller's key.

`RegistryCatalog` reads the current registry on every call, so an admin edit is
visible at once; it fits the router's `ModelCatalog` protocol (any principal
with an `allowed_models` collection).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Protocol

from services.router.routing.registry import Model, RegistryHolder

__all__ = ["RegistryCatalog", "model_object"]


class _Principal(Protocol):
    @property
    def allowed_models(self) -> Collection[str]: ...


def model_object(model: Model, *, created: int = 0) -> dict[str, Any]:
    """OpenAI's model object plus what the gateway knows (prices in USD per Mtok)."""
    price = model.pricing
    return {
        "id": model.id,
        "object": "model",
        "created": created,
        "owned_by": model.provider,
        "provider": model.provider,
        "upstream_model": model.upstream_id,
        "capabilities": sorted(model.capabilities or ()),
        "context_window": model.context_window or 0,
        "max_output_tokens": model.max_output_tokens or 0,
        "pricing": {
            "input": price.input,
            "output": price.output,
            "cached_input": price.cached_input,
            "source": price.source,
        },
    }


class RegistryCatalog:
    def __init__(self, holder: RegistryHolder, *, created: int = 0) -> None:
        self._holder = holder
        self._created = created

    def list_models(self, principal: _Principal) -> list[dict[str, Any]]:
        registry = self._holder.current
        return [
            model_object(m, created=self._created)
            for m in registry.visible_models(principal.allowed_models)
        ]

    def get_model(self, model_id: str, principal: _Principal) -> dict[str, Any] | None:
        registry = self._holder.current
        model = registry.model(model_id)
        if model is None or not registry.allowed(principal.allowed_models, model):
            return None
        return model_object(model, created=self._created)
