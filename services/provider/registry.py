"""The one place providers are registered.

Each provider folder exports `PROVIDER = ProviderSpec(...)` (provider_spec.py)
naming itself, its adapter factory and its settings variables. To register a
provider, add its import line and its name to `PROVIDERS` below — nothing else
in the service names a provider.
"""

from __future__ import annotations

from services.provider.adapters.anthropic import PROVIDER as ANTHROPIC
from services.provider.adapters.groq import PROVIDER as GROQ
from services.provider.adapters.mock import PROVIDER as MOCK
from services.provider.adapters.openai import PROVIDER as OPENAI
from services.provider.provider_spec import AdapterFactory, ProviderSpec

__all__ = ["PROVIDERS", "AdapterFactory", "ProviderSpec", "find"]

PROVIDERS: tuple[ProviderSpec, ...] = (
    MOCK,
    ANTHROPIC,
    OPENAI,
    GROQ,
)


def find(name: str) -> ProviderSpec | None:
    """The registered spec called `name`, if any."""
    for spec in PROVIDERS:
        if spec.name == name:
            return spec
    return None
