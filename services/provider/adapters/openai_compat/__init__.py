"""The shared adapter for OpenAI-compatible providers (see README.md).

A provider is a `CompatSpec` (data) plus golden fixtures; `provider_spec(spec)`
turns it into the registry entry the provider service consumes.
"""

from __future__ import annotations

from services.provider.adapters.base import Adapter, UpstreamHttp
from services.provider.adapters.openai_compat.adapter import OpenAICompatAdapter
from services.provider.adapters.openai_compat.spec import CompatSpec, ParamAction, ParamRule
from services.provider.config import ProviderConfig
from services.provider.provider_spec import ProviderSpec

__all__ = ["CompatSpec", "OpenAICompatAdapter", "ParamAction", "ParamRule", "provider_spec"]


def provider_spec(spec: CompatSpec) -> ProviderSpec:
    """The registry entry for an OpenAI-compatible provider described by `spec`."""

    def factory(config: ProviderConfig, http: UpstreamHttp) -> Adapter:
        return OpenAICompatAdapter(spec, http, api_key=config.api_key)

    return ProviderSpec(
        name=spec.name,
        factory=factory,
        api_key_env=spec.api_key_env or None,
        base_url_env=spec.base_url_env or None,
        default_base_url=spec.base_url,
    )
