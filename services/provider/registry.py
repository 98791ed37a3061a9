"""The one place providers are registered.

Each provider folder exports `PROVIDER = ProviderSpec(...)` (provider_spec.py)
naming itself, its adapter factory, its settings variables and its vocabulary.
To register a provider, add its import line and its name to `PROVIDERS` below —
nothing else in the service names a provider. `DEMO_PROVIDERS` are development
scaffolding, served only when `AGENTOPIA_DEMO=true` (config.py).
"""

from __future__ import annotations

from services.provider.adapters.anthropic import PROVIDER as ANTHROPIC
from services.provider.adapters.groq import PROVIDER as GROQ
from services.provider.adapters.mock import PROVIDER as MOCK
from services.provider.adapters.openai import PROVIDER as OPENAI
from services.provider.provider_spec import AdapterFactory, ProviderSpec

__all__ = ["DEMO_PROVIDERS", "PROVIDERS", "AdapterFactory", "ProviderSpec", "find", "registered"]

PROVIDERS: tuple[ProviderSpec, ...] = (
    ANTHROPIC,
    OPENAI,
    GROQ,
)

DEMO_PROVIDERS: tuple[ProviderSpec, ...] = (MOCK,)


def registered(*, demo: bool) -> tuple[ProviderSpec, ...]:
    """The providers a process serves: the production ones, and with `demo` the
    development ones too."""
    return (*DEMO_PROVIDERS, *PROVIDERS) if demo else PROVIDERS


def find(name: str) -> ProviderSpec | None:
    """The registered spec called `name` (development ones included), if any."""
    for spec in registered(demo=True):
        if spec.name == name:
            return spec
    return None
