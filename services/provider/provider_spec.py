"""What a provider declares to be registered: its name, adapter factory, settings names
and vocabulary.

Each provider folder exports one `PROVIDER = ProviderSpec(...)`; registry.py lists them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from services.provider.adapters.base import Adapter, UpstreamHttp
from services.provider.settings import ProviderConfig
from services.provider.vocabulary import GENERIC, Vocabulary

__all__ = ["AdapterFactory", "ProviderSpec"]

# Called once at start-up with the provider's settings and its pooled HTTP
# client (bound to `config.base_url`; paths passed to it are appended).
AdapterFactory = Callable[[ProviderConfig, UpstreamHttp], Adapter]


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """One registry entry.

    name: the provider name in `Invocation.provider` (and model ids `name/...`).
    factory: builds the adapter.
    api_key_env: the SDK-convention key variable; None when the provider needs
        no credential.
    base_url_env / default_base_url: the SDK-convention base URL variable and
        its default; an empty base URL means the adapter makes no HTTP calls.
    options_prefix: environment variables starting with it are handed to the
        adapter in `ProviderConfig.options`.
    vocabulary: the provider's own error words, rate-limit headers and key shapes
        (vocabulary.py); the service's redactor covers every registered provider's.
    request_key: a top-level request key holding this provider's own per-request
        settings; the servicer takes it out of the body (into `Call.extensions`)
        so that no upstream ever sees it.
    """

    name: str
    factory: AdapterFactory
    api_key_env: str | None = None
    base_url_env: str | None = None
    default_base_url: str = ""
    options_prefix: str | None = None
    vocabulary: Vocabulary = GENERIC
    request_key: str | None = None
