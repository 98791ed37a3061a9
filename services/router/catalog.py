"""GET /v1/models: the registry's models and aliases a caller's key may use, as
OpenAI model objects (plus what the gateway knows about each)."""

from __future__ import annotations

from typing import Any, Protocol

from keyvault.client.keycache import Principal
from services.router.routing import Alias, Model, RegistryHolder

__all__ = ["Catalog", "ModelCatalog"]

Json = dict[str, Any]


def _model_object(model: Model, created: int) -> Json:
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
    }


def _alias_object(alias: Alias, created: int) -> Json:
    return {
        "id": alias.name,
        "object": "model",
        "created": created,
        "owned_by": "agentopia",
        "provider": "alias",
        "upstream_model": ",".join(alias.chain),
        "capabilities": [],
        "context_window": 0,
        "max_output_tokens": 0,
    }


class ModelCatalog(Protocol):
    def list_models(self, principal: Principal) -> list[Json]: ...

    def get_model(self, model_id: str, principal: Principal) -> Json | None: ...


class Catalog:
    """Implements the servicers' ModelCatalog over the live registry."""

    def __init__(self, registry: RegistryHolder, *, created: int) -> None:
        self._registry = registry
        self._created = created  # when this registry was loaded, as OpenAI's `created`

    def list_models(self, principal: Principal) -> list[Json]:
        registry = self._registry.current
        scopes = principal.allowed_models
        models = [_model_object(m, self._created) for m in registry.visible_models(scopes)]
        aliases = [_alias_object(a, self._created) for a in registry.visible_aliases(scopes)]
        return models + aliases

    def get_model(self, model_id: str, principal: Principal) -> Json | None:
        registry = self._registry.current
        scopes = principal.allowed_models
        model = registry.model(model_id)
        if model is not None and registry.allowed(scopes, model):
            return _model_object(model, self._created)
        for alias in registry.visible_aliases(scopes):
            if alias.name == model_id:
                return _alias_object(alias, self._created)
        return None
