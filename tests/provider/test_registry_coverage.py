"""Every registered provider is covered by the suites derived from the registry: it has
a fixture folder with its provider.json, golden fixtures and an emulator when it calls
an upstream, a conformance entry, and (production providers) a model the end-to-end
suite calls. Each failure names the provider and what to add."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from services.provider.provider_spec import ProviderSpec
from services.provider.registry import PROVIDERS
from tests.provider.conformance.entries import BUILDERS, ENTRIES
from tests.provider.conformance.entry_openai_compat import flavor_of
from tests.provider.registered import MANIFEST, UnderTest, under_test

UNDER_TEST = under_test()
IDS = [provider.name for provider in UNDER_TEST]
EMULATORS = Path(__file__).resolve().parents[1] / "emulators"


@pytest.mark.parametrize("provider", UNDER_TEST, ids=IDS)
def test_it_has_a_fixture_manifest(provider: UnderTest) -> None:
    assert provider.manifest is not None, (
        f"registered provider {provider.name!r} has no {provider.fixtures / MANIFEST}"
    )


@pytest.mark.parametrize("provider", UNDER_TEST, ids=IDS)
def test_an_upstream_provider_has_golden_fixtures_and_an_emulator(provider: UnderTest) -> None:
    manifest = provider.manifest
    assert manifest is not None, provider.name
    calls_upstream = bool(provider.spec.default_base_url or provider.spec.base_url_env)
    if not calls_upstream:
        assert manifest.emulator is None, f"{provider.name} makes no HTTP call: no emulator"
        return
    assert provider.golden, f"registered provider {provider.name!r} has no golden fixtures"
    assert manifest.emulator, f"registered provider {provider.name!r} names no emulator"
    assert (EMULATORS / f"{manifest.emulator}.py").is_file(), (
        f"{provider.name}: no emulator tests/emulators/{manifest.emulator}.py"
    )
    importlib.import_module(f"tests.emulators.{manifest.emulator}")
    if provider.compat is not None:
        flavor_of(manifest.flavor)  # the openai_compat emulator speaks this flavor
    assert manifest.model and manifest.key, f"{provider.name}: model and key are needed"


@pytest.mark.parametrize("provider", UNDER_TEST, ids=IDS)
def test_it_has_a_conformance_entry(provider: UnderTest) -> None:
    assert provider.adapter in BUILDERS, (
        f"{provider.name} is built on adapter {provider.adapter!r}, which has no conformance "
        "builder in tests/provider/conformance/entries.py"
    )
    assert provider.name in {entry.name for entry in ENTRIES}


@pytest.mark.parametrize("spec", PROVIDERS, ids=[spec.name for spec in PROVIDERS])
def test_a_production_provider_is_called_end_to_end(spec: ProviderSpec) -> None:
    (provider,) = (p for p in UNDER_TEST if p.spec is spec)
    assert provider.manifest is not None and provider.manifest.e2e_model, (
        f"{provider.name}: set e2e_model in {provider.fixtures / MANIFEST}"
    )


def test_entries_are_the_registry() -> None:
    assert [entry.name for entry in ENTRIES] == IDS
