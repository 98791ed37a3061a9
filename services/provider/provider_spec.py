"""What a provider declares to be registered: its name, adapter factory and settings names.

Each provider folder exports one `PROVIDER = ProviderSpec(...)`; registry.py lists them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from services.provider.adapters.base import Adapter, UpstreamHttp
from services.provider.config import ProviderConfig

__all__ = ["AdapterFactory", "ProviderSpec"]

# Called once at start-up with the provider's settings and its pooled HTTP
# client (bound to `config.base_url`; paths passed to it are appended).
AdapterFactory = Callable[[ProviderConfig, UpstreamHttp], Adapter]


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """One registry entry.

    name: the provider name in `Invocation.provider` (and model ids `name/...`).
    factory: builds the adapter.
    api_key_env: the SDK-convention key variable (OPENAI_API_KEY); None when
        the provider needs no credential (mock).
    base_url_env / default_base_url: the SDK-convention base URL variable and
        its default; an empty base URL means the adapter makes no HTTP calls.
    options_prefix: environment variables starting with it are handed to the
        adapter in `ProviderConfig.options` (e.g. "AGENTOPIA_MOCK_").
    """

    name: str
    factory: AdapterFactory
    api_key_env: str | None = None
    base_url_env: str | None = None
    default_base_url: str = ""
    options_prefix: str | None = None
