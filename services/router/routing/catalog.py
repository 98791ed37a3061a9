"""Models as OpenAI-shaped model objects for GET /v1/models, filtered by the caller's key.

`RegistryCatalog` reads the current registry on every call, so an admin edit is
visible at once; it fits the router's `ModelCatalog` protocol (any principal
with an `allowed_models` collection).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Protocol

from services.router.routing.capabilities import spell_all
from services.router.routing.registry import Alias, Model, RegistryHolder

__all__ = ["ModelCatalog", "RegistryCatalog", "alias_object", "model_object"]

Json = dict[str, Any]


class _Principal(Protocol):
    @property
    def allowed_models(self) -> Collection[str]: ...


class ModelCatalog(Protocol):
    """What the public servicers need for GET /v1/models."""

    def list_models(self, principal: _Principal) -> list[Json]: ...

    def get_model(self, model_id: str, principal: _Principal) -> Json | None: ...


def model_object(model: Model, *, created: int = 0) -> dict[str, Any]:
    """The OpenAI-shaped model object plus what the gateway knows (prices in USD per Mtok,
    from the shared price table; null where the model is unpriced)."""
    price = model.pricing
    return {
        "id": model.id,
        "object": "model",
        "created": created,
        "owned_by": model.provider,
        "provider": model.provider,
        "upstream_model": model.upstream_id,
        "capabilities": spell_all(model.capabilities or ()),
        "context_window": model.context_window or 0,
        "max_output_tokens": model.max_output_tokens or 0,
        "pricing": {
            "input": price.input,
            "output": price.output,
            "cached_input": price.cached_input,
            "source": price.source,
        },
    }


def alias_object(alias: Alias, *, created: int = 0) -> Json:
    """An alias listed like a model: `owned_by` agentopia, its chain as upstream."""
    return {
        "id": alias.name,
        "object": "model",
        "created": created,
        "owned_by": "agentopia",
        "provider": "alias",
        "upstream_model": ",".join(alias.chain),
        "description": alias.description,
        "capabilities": [],
        "context_window": 0,
        "max_output_tokens": 0,
    }


class RegistryCatalog:
    def __init__(self, holder: RegistryHolder, *, created: int = 0) -> None:
        self._holder = holder
        self._created = created

    def list_models(self, principal: _Principal) -> list[Json]:
        registry = self._holder.current
        scopes = principal.allowed_models
        models = [model_object(m, created=self._created) for m in registry.visible_models(scopes)]
        aliases = [alias_object(a, created=self._created) for a in registry.visible_aliases(scopes)]
        return models + aliases

    def get_model(self, model_id: str, principal: _Principal) -> Json | None:
        registry = self._holder.current
        scopes = principal.allowed_models
        model = registry.model(model_id)
        if model is not None and registry.allowed(scopes, model):
            return model_object(model, created=self._created)
        for alias in registry.visible_aliases(scopes):
            if alias.name == model_id:
                return alias_object(alias, created=self._created)
        return None
