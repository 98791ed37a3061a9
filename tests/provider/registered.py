"""The providers under test, derived from the provider registry — nothing here lists them.

For every registered provider (the development ones included):
- `adapter`: the adapter folder its spec builds on, read from its factory
  (`openai_compat` for a data spec over the shared adapter; its `CompatSpec` is
  `compat`);
- `fixtures`: tests/fixtures/providers/<name>/, whose provider.json says how the
  suites reach it: `emulator` (a module under tests/emulators, null when the adapter
  makes no HTTP call), the emulator's wire `flavor`, the upstream `model` the
  conformance scenarios call, the `e2e_model` the end-to-end suite calls through the
  edge (empty: not exercised there) and the API `key` the emulator accepts.

The conformance entries (conformance/entries.py), the golden-fixture specs
(test_openai_compat_fixtures.py) and the end-to-end provider list
(tests/e2e/test_providers.py) all come from `under_test()`; test_registry_coverage.py
fails when a registered provider lacks any of what they need.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from services.provider.adapters.base import CapabilityValue
from services.provider.adapters.openai_compat import CompatFactory, CompatSpec
from services.provider.http import DisabledHttp
from services.provider.provider_spec import ProviderSpec
from services.provider.registry import registered
from services.provider.settings import ProviderConfig

__all__ = ["FIXTURES", "Manifest", "UnderTest", "adapter_folder", "under_test"]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "providers"
MANIFEST = "provider.json"


@dataclass(frozen=True, slots=True)
class Manifest:
    emulator: str | None
    flavor: str
    model: str
    e2e_model: str
    key: str

    @classmethod
    def read(cls, path: Path) -> Manifest:
        data = json.loads(path.read_text())
        return cls(
            emulator=data["emulator"],
            flavor=data["flavor"],
            model=data["model"],
            e2e_model=data["e2e_model"],
            key=data["key"],
        )


@dataclass(frozen=True, slots=True)
class UnderTest:
    spec: ProviderSpec
    adapter: str
    fixtures: Path
    manifest: Manifest | None  # None: the provider has no fixture folder yet

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def compat(self) -> CompatSpec | None:
        factory = self.spec.factory
        return factory.spec if isinstance(factory, CompatFactory) else None

    @property
    def capabilities(self) -> frozenset[CapabilityValue]:
        """What its adapter declares (built without a key or any HTTP)."""
        config = ProviderConfig(name=self.name, requires_key=False)
        return self.spec.factory(config, DisabledHttp(self.name)).capabilities

    @property
    def golden(self) -> list[Path]:
        """Its golden fixture files (the manifest excluded), at any depth."""
        return sorted(p for p in self.fixtures.rglob("*.json") if p.name != MANIFEST)


def adapter_folder(spec: ProviderSpec) -> str:
    """`services.provider.adapters.<folder>...`: where the spec's factory is defined."""
    factory = spec.factory
    if isinstance(factory, CompatFactory):
        module = type(factory).__module__
    else:
        module = str(getattr(factory, "__module__", ""))
    parts = module.split(".")
    return parts[3] if parts[:3] == ["services", "provider", "adapters"] else module


def under_test(
    specs: Sequence[ProviderSpec] | None = None, fixtures: Path = FIXTURES
) -> tuple[UnderTest, ...]:
    """Every registered provider (or every one of `specs`) with what the suites need."""
    chosen = registered(demo=True) if specs is None else tuple(specs)
    found = []
    for spec in chosen:
        folder = fixtures / spec.name
        manifest = folder / MANIFEST
        found.append(
            UnderTest(
                spec=spec,
                adapter=adapter_folder(spec),
                fixtures=folder,
                manifest=Manifest.read(manifest) if manifest.is_file() else None,
            )
        )
    return tuple(found)
