"""The model registry: an immutable, validated snapshot of models, deployments and aliases.

A `Registry` is built once (from the shipped `models.toml`, or from an admin edit)
and never mutated; the router swaps whole snapshots through `RegistryHolder`, so
a request always sees one consistent version. Lookups are dict probes.

Names a client may send as `model`:
- a listed model id;
- an alias (`fast`, `smart`, ...): an ordered fallback chain of model ids;
- `auto`: every listed model, filtered and ranked by the request's requirements;
- `<provider>/<upstream-id>` for a provider that allows passthrough: any model id
  the provider knows, even if unlisted (synthesized with unknown context, and
  priced by the price table if it knows the upstream id).

Capabilities are `agentopia.v1.Capability` values (see `capabilities.py`);
prices come from the shared price table (see `prices.py`).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import grpc

from metrics.client.pricing import PriceTable
from services.kernel.errors import GatewayError
from services.router.routing.capabilities import Capabilities, CapabilityValue
from services.router.routing.prices import Pricing, list_price

__all__ = [
    "AUTO",
    "BALANCER_STRATEGIES",
    "Alias",
    "Deployment",
    "Model",
    "Pricing",
    "ProviderDefaults",
    "Registry",
    "RegistryHolder",
    "Resolution",
    "ResolutionKind",
]

AUTO = "auto"

# How a model spreads load over its deployments (balancer.Strategy values).
BALANCER_STRATEGIES = ("weighted", "least_outstanding", "latency")

# Ids travel in response headers and metrics labels: printable ASCII, no spaces.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}")


def valid_id(value: str) -> bool:
    return _ID.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class Deployment:
    """One place a model is served: a provider, its upstream id and a key pool."""

    id: str
    model: str
    provider: str
    upstream_id: str
    weight: int = 1
    region: str = ""
    # Until the upstream's first byte: a slow or stuck deployment (retried elsewhere,
    # counted against it).
    timeout_s: float = 60.0
    # The whole exchange: a long generation ends here, neither retried (the upstream
    # did the work) nor counted against the deployment.
    total_timeout_s: float = 600.0
    key_pool: str = ""  # credential id/pool at the provider service; "" = its default


@dataclass(frozen=True, slots=True)
class Model:
    id: str
    provider: str
    upstream_id: str
    # None = unknown (a synthesized passthrough model): never excluded for it.
    capabilities: Capabilities | None
    context_window: int | None
    max_output_tokens: int | None
    pricing: Pricing  # from the price table when the registry was built
    deployments: tuple[Deployment, ...]
    fallbacks: tuple[str, ...] = ()
    latency_ms: float | None = None  # declared typical time to first token, a prior
    auto: bool = True  # a candidate for `model: "auto"`
    balancer: str = "weighted"  # one of BALANCER_STRATEGIES
    description: str = ""
    synthetic: bool = False

    def supports(self, capability: CapabilityValue) -> bool:
        return self.capabilities is None or capability in self.capabilities

    @property
    def default_max_tokens(self) -> int:
        return min(self.max_output_tokens or 4096, 4096)


@dataclass(frozen=True, slots=True)
class Alias:
    name: str
    chain: tuple[str, ...]
    description: str = ""


@dataclass(frozen=True, slots=True)
class ProviderDefaults:
    name: str
    passthrough: bool = True
    timeout_s: float = 60.0
    total_timeout_s: float = 600.0
    key_pool: str = ""
    region: str = ""


class ResolutionKind(enum.StrEnum):
    MODEL = "model"
    ALIAS = "alias"
    AUTO = "auto"
    PASSTHROUGH = "passthrough"


@dataclass(frozen=True, slots=True)
class Resolution:
    """What a requested name means: the pool of models, in the configured order."""

    requested: str
    kind: ResolutionKind
    models: tuple[Model, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Registry:
    """An immutable registry snapshot. Build with `services.router.routing.loader`."""

    version: int
    schema_version: int
    providers: Mapping[str, ProviderDefaults]
    models: Mapping[str, Model]
    aliases: Mapping[str, Alias]
    prices: PriceTable  # prices the models, and passthrough models as they appear
    source: str = ""
    deployments: Mapping[str, Deployment] = field(init=False)
    _by_upstream: Mapping[tuple[str, str], Model] = field(init=False, repr=False)
    _listed: tuple[Model, ...] = field(init=False, repr=False)
    _auto: tuple[Model, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        deployments = {d.id: d for m in self.models.values() for d in m.deployments}
        by_upstream = {(m.provider, m.upstream_id): m for m in self.models.values()}
        object.__setattr__(self, "deployments", MappingProxyType(deployments))
        object.__setattr__(self, "_by_upstream", MappingProxyType(by_upstream))
        object.__setattr__(self, "_listed", tuple(self.models.values()))
        object.__setattr__(self, "_auto", tuple(m for m in self._listed if m.auto))

    @property
    def listed(self) -> tuple[Model, ...]:
        """Every configured model, in file order."""
        return self._listed

    def model(self, model_id: str) -> Model | None:
        return self.models.get(model_id)

    def resolve(self, name: str) -> Resolution:
        """Explicit model, alias, `auto` or passthrough; else 404 `model_not_found`."""
        model = self.models.get(name)
        if model is not None:
            return Resolution(name, ResolutionKind.MODEL, (model,))
        alias = self.aliases.get(name)
        if alias is not None:
            chain = tuple(self.models[m] for m in alias.chain)
            return Resolution(name, ResolutionKind.ALIAS, chain)
        if name == AUTO:
            return Resolution(name, ResolutionKind.AUTO, self._auto)
        passthrough = self._passthrough(name)
        if passthrough is not None:
            return Resolution(name, passthrough[0], (passthrough[1],))
        raise _model_not_found(name, self)

    def metric_label(self, name: str) -> str:
        """`name` as a metric label value: itself when configured (a model, an alias,
        `auto`), `<provider>/*` for a passthrough name, else `other` — clients choose
        these names, and a label value per name would grow without bound."""
        if name in self.models or name in self.aliases or name == AUTO:
            return name
        provider, sep, _ = name.partition("/")
        if sep and provider in self.providers:
            return f"{provider}/*"
        return "other"

    def _passthrough(self, name: str) -> tuple[ResolutionKind, Model] | None:
        provider, sep, upstream = name.partition("/")
        defaults = self.providers.get(provider)
        if not sep or defaults is None:
            return None
        listed = self._by_upstream.get((provider, upstream))
        if listed is not None:  # `<provider>/<listed upstream id>` is that listed model
            return ResolutionKind.MODEL, listed
        if not upstream or not defaults.passthrough or not valid_id(name):
            return None
        return ResolutionKind.PASSTHROUGH, _synthesize(name, upstream, defaults, self.prices)

    def allowed(self, scopes: Collection[str], model: Model | str) -> bool:
        """Whether a key whose `allowed_models` are `scopes` may use `model`.

        Empty scopes allow everything. A scope is a model id, an alias (allowing
        every model of its chain), `<provider>/*`, or `*`.
        """
        if not scopes or "*" in scopes:
            return True
        model_id = model if isinstance(model, str) else model.id
        if model_id in scopes:
            return True
        provider = model.provider if isinstance(model, Model) else model_id.partition("/")[0]
        if f"{provider}/*" in scopes:
            return True
        return any(model_id in alias.chain for name in scopes if (alias := self.aliases.get(name)))

    def visible_models(self, scopes: Collection[str]) -> tuple[Model, ...]:
        """The listed models a key may use (GET /v1/models)."""
        return tuple(m for m in self._listed if self.allowed(scopes, m))

    def visible_aliases(self, scopes: Collection[str]) -> tuple[Alias, ...]:
        return tuple(
            a
            for a in self.aliases.values()
            if a.name in scopes or any(self.allowed(scopes, m) for m in a.chain)
        )


def _synthesize(name: str, upstream: str, defaults: ProviderDefaults, prices: PriceTable) -> Model:
    deployment = Deployment(
        id=name,
        model=name,
        provider=defaults.name,
        upstream_id=upstream,
        region=defaults.region,
        timeout_s=defaults.timeout_s,
        total_timeout_s=defaults.total_timeout_s,
        key_pool=defaults.key_pool,
    )
    return Model(
        id=name,
        provider=defaults.name,
        upstream_id=upstream,
        capabilities=None,
        context_window=None,
        max_output_tokens=None,
        pricing=list_price(prices, defaults.name, upstream),
        deployments=(deployment,),
        synthetic=True,
        description="unlisted model passed through to its provider",
    )


def _model_not_found(name: str, registry: Registry) -> GatewayError:
    hint = ", ".join(sorted(registry.aliases)[:6])
    printable = name if valid_id(name) else repr(name[:80])
    return GatewayError(
        status=grpc.StatusCode.NOT_FOUND,
        code="model_not_found",
        message=(
            f"The model {printable} does not exist. Use a listed model (GET /v1/models), "
            f"an alias ({hint}), 'auto', or '<provider>/<model>' for a configured provider."
        ),
        param="model",
        type="invalid_request_error",
    )


class RegistryHolder:
    """The current registry; replaced atomically (one assignment) by newer versions.

    Under asyncio nothing else runs between reading `current` and using it, and a
    request keeps the snapshot it started with, so no lock is needed.
    """

    def __init__(self, registry: Registry) -> None:
        self._current = registry
        self._listeners: list[Callable[[Registry], None]] = []

    @property
    def current(self) -> Registry:
        return self._current

    @property
    def version(self) -> int:
        return self._current.version

    def subscribe(self, listener: Callable[[Registry], None]) -> None:
        """Call `listener(new_registry)` after every swap (e.g. to resync balancers)."""
        self._listeners.append(listener)

    def swap(self, registry: Registry) -> bool:
        """Install `registry` if it is newer; False (and no change) otherwise."""
        if registry.version <= self._current.version:
            return False
        self._current = registry
        for listener in tuple(self._listeners):
            listener(registry)
        return True
