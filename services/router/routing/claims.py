"""A registry's capability claims, checked against what each provider's adapter declares.

A model claims capabilities (`capabilities = [...]` in the registry); each of
its deployments is served by one provider, whose adapter declares what it can
translate (the provider service's ListProviders reply). A claim beyond the
adapter would route a request to a provider that cannot serve it, so it is an
error: at start-up the router refuses to run, and an edit making one is refused.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from services.router.routing.capabilities import Capabilities, CapabilityValue, spell, spell_all
from services.router.routing.fields import RegistryError
from services.router.routing.registry import Registry

__all__ = ["Overclaim", "check_claims", "overclaims"]


@dataclass(frozen=True, slots=True)
class Overclaim:
    """One capability a deployment's model claims and its provider's adapter lacks."""

    model: str
    deployment: str
    provider: str
    capability: CapabilityValue
    declared: Capabilities

    def describe(self) -> str:
        declared = ", ".join(spell_all(self.declared)) or "nothing"
        return (
            f"model {self.model!r} (deployment {self.deployment!r}) claims capability "
            f"{spell(self.capability)!r}, which provider {self.provider!r} does not "
            f"support (its adapter declares: {declared})"
        )


def overclaims(registry: Registry, adapters: Mapping[str, Capabilities]) -> Iterator[Overclaim]:
    """Every claim beyond its adapter, in registry order. Providers absent from
    `adapters` (not known to the provider service) are not judged: they are not
    routable either, and a later provider list judges them when they appear."""
    for model in registry.listed:
        claimed = model.capabilities or frozenset()
        for deployment in model.deployments:
            declared = adapters.get(deployment.provider)
            if declared is None:
                continue
            for capability in sorted(claimed - declared, key=spell):
                yield Overclaim(model.id, deployment.id, deployment.provider, capability, declared)


def check_claims(registry: Registry, adapters: Mapping[str, Capabilities]) -> None:
    """RegistryError naming the first overclaim (and how many more there are)."""
    found = list(overclaims(registry, adapters))
    if not found:
        return
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    where = registry.source or "registry"
    raise RegistryError(f"{where}: {found[0].describe()}{more}")
