"""Every provider under test, derived from the registry (tests/provider/registered.py):
each registered provider gets the entry of the adapter its spec builds on. A provider
on a new adapter needs a builder here (`entry_<adapter>.py`, see harness.py);
test_registry_coverage.py fails while one is missing."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from tests.provider.conformance import entry_anthropic, entry_mock, entry_openai_compat
from tests.provider.conformance.harness import ProviderUnderTest
from tests.provider.registered import UnderTest, under_test

__all__ = ["BUILDERS", "ENTRIES", "entries_for"]

# Adapter folder → how a provider on it is put under test.
BUILDERS: Mapping[str, Callable[[UnderTest], ProviderUnderTest]] = MappingProxyType(
    {
        "openai_compat": entry_openai_compat.entry,
        "anthropic": entry_anthropic.entry,
        "mock": entry_mock.entry,
    }
)


def entries_for(providers: tuple[UnderTest, ...]) -> tuple[ProviderUnderTest, ...]:
    """The entries of every provider that has a builder and a fixture manifest."""
    return tuple(
        BUILDERS[provider.adapter](provider)
        for provider in providers
        if provider.adapter in BUILDERS and provider.manifest is not None
    )


ENTRIES: tuple[ProviderUnderTest, ...] = entries_for(under_test())
