"""Anthropic (Claude) Messages API behind the OpenAI shapes. See README.md."""

from __future__ import annotations

from services.provider.adapters.anthropic.adapter import API_KEY_ENV, AnthropicAdapter
from services.provider.adapters.anthropic.errors import NAME, VOCABULARY
from services.provider.adapters.base import Adapter, UpstreamHttp
from services.provider.provider_spec import ProviderSpec
from services.provider.settings import ProviderConfig

__all__ = ["PROVIDER", "AnthropicAdapter"]


def _build(config: ProviderConfig, http: UpstreamHttp) -> Adapter:
    return AnthropicAdapter(http, redactor=config.redactor)


PROVIDER = ProviderSpec(
    name=NAME,
    factory=_build,
    api_key_env=API_KEY_ENV,
    base_url_env="ANTHROPIC_BASE_URL",  # the SDK's variable; the base has no /v1
    default_base_url="https://api.anthropic.com",
    vocabulary=VOCABULARY,
)
