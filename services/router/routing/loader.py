"""Build a `Registry` from its versioned TOML config, validating every field.

The format (`schema_version = 1`) is documented in `models.toml`, which ships
with the router. Every mistake is a `RegistryError` naming the field by path
(`models[3].deployments[0].wieght: unknown field`), so an admin edit that would
break routing is refused before it replaces the running registry.

The shipped registry lists production models only. The demo models (those of
the fault-injecting demo provider) live in `demo_models.toml`, appended to the
shipped document when the demo switch is on, so the revision an admin reads
and edits is the one document the router routes with.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from metrics.client.pricing import PriceTable, default_table
from services.router.routing.capabilities import (
    CHAT,
    STREAMING,
    Capabilities,
    parse_capabilities,
)
from services.router.routing.fields import RegistryError, Table
from services.router.routing.prices import list_price
from services.router.routing.registry import (
    AUTO,
    BALANCER_STRATEGIES,
    Alias,
    Deployment,
    Model,
    ProviderDefaults,
    Registry,
    valid_id,
)

__all__ = [
    "DEMO_FILE",
    "SCHEMA_VERSION",
    "SHIPPED_FILE",
    "RegistryError",
    "load_default",
    "load_path",
    "parse_registry",
    "shipped_document",
]

SCHEMA_VERSION = 1
SHIPPED_FILE = "models.toml"
DEMO_FILE = "demo_models.toml"
_DEFAULT_CAPABILITIES: Capabilities = frozenset({CHAT, STREAMING})


def shipped_document(*, demo: bool) -> str:
    """The shipped registry's TOML text, with the demo models appended when `demo`."""
    package = resources.files(__package__)
    text = package.joinpath(SHIPPED_FILE).read_text(encoding="utf-8")
    if demo:
        text += "\n" + package.joinpath(DEMO_FILE).read_text(encoding="utf-8")
    return text


def load_default(
    *, demo: bool = False, version: int | None = None, prices: PriceTable | None = None
) -> Registry:
    """The registry shipped with the router (services/router/routing/models.toml),
    plus the demo models when `demo`."""
    source = f"{SHIPPED_FILE} + {DEMO_FILE}" if demo else SHIPPED_FILE
    text = shipped_document(demo=demo)
    return parse_registry(text, source=source, version=version, prices=prices)


def load_path(
    path: str | Path, *, version: int | None = None, prices: PriceTable | None = None
) -> Registry:
    file = Path(path)
    text = file.read_text(encoding="utf-8")
    return parse_registry(text, source=str(file), version=version, prices=prices)


def parse_registry(
    text: str,
    *,
    source: str = "",
    version: int | None = None,
    prices: PriceTable | None = None,
) -> Registry:
    """Parse and validate; `version` overrides the file's own (admin edits bump it).
    Models are priced from `prices` (default: the shipped price table)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"{source or 'config'}: invalid TOML: {exc}") from None
    return build_registry(data, source=source, version=version, prices=prices)


def build_registry(
    data: Mapping[str, Any],
    *,
    source: str = "",
    version: int | None = None,
    prices: PriceTable | None = None,
) -> Registry:
    table = prices or default_table()
    top = Table("", data)
    schema = top.integer("schema_version", minimum=1)
    if schema != SCHEMA_VERSION:
        raise RegistryError(f"schema_version: {schema} is not supported (expected 1)")
    file_version = top.integer("version", minimum=0)
    providers = _providers(top.table("providers"))
    models = _models(top.array("models"), providers, table)
    aliases = _aliases(top.optional_table("aliases"), models)
    top.done()
    _check_fallbacks(models)
    return Registry(
        version=file_version if version is None else version,
        schema_version=schema,
        providers=MappingProxyType(providers),
        models=MappingProxyType(models),
        aliases=MappingProxyType(aliases),
        prices=table,
        source=source,
    )


def _providers(table: Table) -> dict[str, ProviderDefaults]:
    out: dict[str, ProviderDefaults] = {}
    for name, sub in table.subtables():
        _require_id(sub.path, name)
        out[name] = ProviderDefaults(
            name=name,
            passthrough=sub.boolean("passthrough", default=True),
            timeout_s=sub.number("timeout_s", default=60.0, positive=True),
            total_timeout_s=sub.number("total_timeout_s", default=600.0, positive=True),
            key_pool=sub.string("key_pool", default=""),
            region=sub.string("region", default=""),
        )
        sub.done()
    if not out:
        raise RegistryError("providers: declare at least one provider")
    return out


def _models(
    items: list[Table], providers: Mapping[str, ProviderDefaults], prices: PriceTable
) -> dict[str, Model]:
    models: dict[str, Model] = {}
    deployment_ids: set[str] = set()
    for item in items:
        model = _model(item, providers, prices)
        if model.id in models:
            raise RegistryError(f"{item.path}.id: duplicate model id {model.id!r}")
        for dep in model.deployments:
            if dep.id in deployment_ids:
                raise RegistryError(f"{item.path}.deployments: duplicate deployment id {dep.id!r}")
            deployment_ids.add(dep.id)
        models[model.id] = model
    if not models:
        raise RegistryError("models: declare at least one model")
    return models


def _model(item: Table, providers: Mapping[str, ProviderDefaults], prices: PriceTable) -> Model:
    model_id = item.string("id")
    _require_id(f"{item.path}.id", model_id)
    if model_id == AUTO:
        raise RegistryError(f"{item.path}.id: 'auto' is reserved")
    provider = _provider_ref(item, "provider", providers)
    upstream = item.string("upstream_id", default=model_id)
    capabilities = _capabilities(item)
    defaults = providers[provider]
    deployments = tuple(
        _deployment(sub, model_id, provider, upstream, providers)
        for sub in item.array("deployments", required=False)
    ) or (_default_deployment(model_id, provider, upstream, defaults),)
    if not any(d.weight > 0 for d in deployments):
        raise RegistryError(f"{item.path}.deployments: at least one weight must be > 0")
    model = Model(
        id=model_id,
        provider=provider,
        upstream_id=upstream,
        capabilities=capabilities,
        context_window=item.integer("context_window", minimum=1),
        max_output_tokens=item.integer("max_output_tokens", minimum=1),
        pricing=list_price(prices, provider, upstream),
        deployments=deployments,
        fallbacks=tuple(item.strings("fallbacks", default=())),
        latency_ms=item.optional_number("latency_ms"),
        auto=item.boolean("auto", default=True),
        balancer=_balancer(item),
        description=item.string("description", default=""),
    )
    item.done()
    return model


def _capabilities(item: Table) -> Capabilities:
    if item.absent("capabilities"):
        return _DEFAULT_CAPABILITIES
    try:
        return parse_capabilities(item.strings("capabilities"))
    except ValueError as error:
        raise RegistryError(f"{item.path}.capabilities: {error}") from None


def _balancer(item: Table) -> str:
    name = item.string("balancer", default="weighted")
    if name not in BALANCER_STRATEGIES:
        raise RegistryError(f"{item.path}.balancer: must be one of {list(BALANCER_STRATEGIES)}")
    return name


def _deployment(
    sub: Table,
    model_id: str,
    provider: str,
    upstream: str,
    providers: Mapping[str, ProviderDefaults],
) -> Deployment:
    dep_id = sub.string("id")
    _require_id(f"{sub.path}.id", dep_id)
    dep_provider = _provider_ref(sub, "provider", providers, default=provider)
    defaults = providers[dep_provider]
    deployment = Deployment(
        id=dep_id,
        model=model_id,
        provider=dep_provider,
        upstream_id=sub.string("upstream_id", default=upstream),
        weight=sub.integer("weight", minimum=0, default=1),
        region=sub.string("region", default=defaults.region),
        timeout_s=sub.number("timeout_s", default=defaults.timeout_s, positive=True),
        total_timeout_s=sub.number(
            "total_timeout_s", default=defaults.total_timeout_s, positive=True
        ),
        key_pool=sub.string("key_pool", default=defaults.key_pool),
    )
    sub.done()
    return deployment


def _default_deployment(
    model_id: str, provider: str, upstream: str, defaults: ProviderDefaults
) -> Deployment:
    return Deployment(
        id=model_id,
        model=model_id,
        provider=provider,
        upstream_id=upstream,
        region=defaults.region,
        timeout_s=defaults.timeout_s,
        total_timeout_s=defaults.total_timeout_s,
        key_pool=defaults.key_pool,
    )


def _aliases(table: Table | None, models: Mapping[str, Model]) -> dict[str, Alias]:
    out: dict[str, Alias] = {}
    if table is None:
        return out
    for name, sub in table.subtables():
        _require_id(sub.path, name)
        if name in models or name == AUTO:
            raise RegistryError(f"{sub.path}: alias {name!r} collides with a model id or 'auto'")
        chain = tuple(sub.strings("chain"))
        if not chain:
            raise RegistryError(f"{sub.path}.chain: must name at least one model")
        for index, model_id in enumerate(chain):
            if model_id not in models:
                raise RegistryError(f"{sub.path}.chain[{index}]: unknown model {model_id!r}")
        if len(set(chain)) != len(chain):
            raise RegistryError(f"{sub.path}.chain: names a model twice")
        out[name] = Alias(name=name, chain=chain, description=sub.string("description", ""))
        sub.done()
    return out


def _check_fallbacks(models: Mapping[str, Model]) -> None:
    for model in models.values():
        for index, target in enumerate(model.fallbacks):
            if target not in models:
                raise RegistryError(
                    f"models[{model.id}].fallbacks[{index}]: unknown model {target!r}"
                )
            if target == model.id:
                raise RegistryError(f"models[{model.id}].fallbacks[{index}]: names itself")


def _provider_ref(
    table: Table,
    key: str,
    providers: Mapping[str, ProviderDefaults],
    default: str | None = None,
) -> str:
    name = table.string(key) if default is None else table.string(key, default=default)
    if name not in providers:
        raise RegistryError(
            f"{table.path}.{key}: provider {name!r} is not declared in [providers] "
            f"(declared: {sorted(providers)})"
        )
    return name


def _require_id(path: str, value: str) -> None:
    if not valid_id(value):
        raise RegistryError(
            f"{path}: {value!r} is not a valid id (letters, digits and ._:/@+- only, "
            "starting with a letter or digit, at most 200 characters)"
        )
