"""The shared adapter for OpenAI-compatible providers (see README.md).

A provider is a `CompatSpec` (data) plus golden fixtures; `provider_spec(spec)`
turns it into the registry entry the provider service consumes.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.provider.adapters.base import Adapter, UpstreamHttp
from services.provider.adapters.openai_compat.adapter import OpenAICompatAdapter
from services.provider.adapters.openai_compat.spec import CompatSpec, ParamAction, ParamRule
from services.provider.provider_spec import ProviderSpec
from services.provider.settings import ProviderConfig

__all__ = [
    "CompatFactory",
    "CompatSpec",
    "OpenAICompatAdapter",
    "ParamAction",
    "ParamRule",
    "provider_spec",
]


@dataclass(frozen=True, slots=True)
class CompatFactory:
    """The registry factory of an OpenAI-compatible provider; `spec` is the data it
    is built from (what tests derive the provider's fixture and conformance checks from)."""

    spec: CompatSpec

    def __call__(self, config: ProviderConfig, http: UpstreamHttp) -> Adapter:
        return OpenAICompatAdapter(
            self.spec, http, api_key=config.api_key, redactor=config.redactor
        )


def provider_spec(spec: CompatSpec) -> ProviderSpec:
    """The registry entry for an OpenAI-compatible provider described by `spec`."""
    return ProviderSpec(
        name=spec.name,
        factory=CompatFactory(spec),
        api_key_env=spec.api_key_env or None,
        base_url_env=spec.base_url_env or None,
        default_base_url=spec.base_url,
        vocabulary=spec.vocabulary,
    )
