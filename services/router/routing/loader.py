"""Build a `Registry` from its versioned TOML config, validating every field.

The format (`schema_version = 1`) is documented in `models.toml`, which ships
with the router. Every mistake is a `RegistryError` naming the field by path
(`models[3].deployments[0].wieght: unknown field`), so an admin edit that would
break routing is refused before it replaces the running registry.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from services.router.routing.registry import (
    AUTO,
    BALANCER_STRATEGIES,
    KNOWN_CAPABILITIES,
    Alias,
    Deployment,
    Model,
    Pricing,
    ProviderDefaults,
    Registry,
    valid_id,
)

__all__ = ["SCHEMA_VERSION", "RegistryError", "load_default", "load_path", "parse_registry"]

SCHEMA_VERSION = 1
_DEFAULT_FILE = "models.toml"


class RegistryError(ValueError):
    """The registry config is invalid; the message names the field."""


def load_default(*, version: int | None = None) -> Registry:
    """The registry shipped with the router (services/router/routing/models.toml)."""
    text = resources.files(__package__).joinpath(_DEFAULT_FILE).read_text(encoding="utf-8")
    return parse_registry(text, source=_DEFAULT_FILE, version=version)


def load_path(path: str | Path, *, version: int | None = None) -> Registry:
    file = Path(path)
    return parse_registry(file.read_text(encoding="utf-8"), source=str(file), version=version)


def parse_registry(text: str, *, source: str = "", version: int | None = None) -> Registry:
    """Parse and validate; `version` overrides the file's own (admin edits bump it)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"{source or 'config'}: invalid TOML: {exc}") from None
    return build_registry(data, source=source, version=version)


def build_registry(
    data: Mapping[str, Any], *, source: str = "", version: int | None = None
) -> Registry:
    top = _Table("", data)
    schema = top.integer("schema_version", minimum=1)
    if schema != SCHEMA_VERSION:
        raise RegistryError(f"schema_version: {schema} is not supported (expected 1)")
    file_version = top.integer("version", minimum=0)
    providers = _providers(top.table("providers"))
    models = _models(top.array("models"), providers)
    aliases = _aliases(top.optional_table("aliases"), models)
    top.done()
    _check_fallbacks(models)
    return Registry(
        version=file_version if version is None else version,
        schema_version=schema,
        providers=MappingProxyType(providers),
        models=MappingProxyType(models),
        aliases=MappingProxyType(aliases),
        source=source,
    )


def _providers(table: _Table) -> dict[str, ProviderDefaults]:
    out: dict[str, ProviderDefaults] = {}
    for name, sub in table.subtables():
        _require_id(sub.path, name)
        out[name] = ProviderDefaults(
            name=name,
            passthrough=sub.boolean("passthrough", default=True),
            timeout_s=sub.number("timeout_s", default=60.0, positive=True),
            key_pool=sub.string("key_pool", default=""),
            region=sub.string("region", default=""),
        )
        sub.done()
    if not out:
        raise RegistryError("providers: declare at least one provider")
    return out


def _models(items: list[_Table], providers: Mapping[str, ProviderDefaults]) -> dict[str, Model]:
    models: dict[str, Model] = {}
    deployment_ids: set[str] = set()
    for item in items:
        model = _model(item, providers)
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


def _model(item: _Table, providers: Mapping[str, ProviderDefaults]) -> Model:
    model_id = item.string("id")
    _require_id(f"{item.path}.id", model_id)
    if model_id == AUTO:
        raise RegistryError(f"{item.path}.id: 'auto' is reserved")
    provider = _provider_ref(item, "provider", providers)
    upstream = item.string("upstream_id", default=model_id)
    capabilities = frozenset(item.strings("capabilities", default=("chat", "streaming")))
    unknown = sorted(capabilities - KNOWN_CAPABILITIES)
    if unknown:
        raise RegistryError(
            f"{item.path}.capabilities: unknown {unknown}; known: {sorted(KNOWN_CAPABILITIES)}"
        )
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
        pricing=_pricing(item.table("price")),
        deployments=deployments,
        fallbacks=tuple(item.strings("fallbacks", default=())),
        latency_ms=item.optional_number("latency_ms"),
        auto=item.boolean("auto", default=True),
        balancer=_balancer(item),
        description=item.string("description", default=""),
    )
    item.done()
    return model


def _balancer(item: _Table) -> str:
    name = item.string("balancer", default="weighted")
    if name not in BALANCER_STRATEGIES:
        raise RegistryError(f"{item.path}.balancer: must be one of {list(BALANCER_STRATEGIES)}")
    return name


def _pricing(table: _Table) -> Pricing:
    pricing = Pricing(
        input=table.optional_number("input"),
        output=table.optional_number("output"),
        cached_input=table.optional_number("cached_input"),
        source=table.string("source"),
    )
    table.done()
    return pricing


def _deployment(
    sub: _Table,
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
        key_pool=defaults.key_pool,
    )


def _aliases(table: _Table | None, models: Mapping[str, Model]) -> dict[str, Alias]:
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
    table: _Table,
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


_MISSING: Any = object()


class _Table:
    """A TOML table read field by field; `done()` rejects whatever was not read."""

    def __init__(self, path: str, data: Mapping[str, Any]) -> None:
        self.path = path
        self._data = data
        self._seen: set[str] = set()

    def _at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def _get(self, key: str, default: Any) -> Any:
        self._seen.add(key)
        value = self._data.get(key, _MISSING)
        if value is _MISSING:
            if default is _MISSING:
                raise RegistryError(f"{self._at(key)}: required field is missing")
            return default
        return value

    def done(self) -> None:
        unknown = sorted(set(self._data) - self._seen)
        if unknown:
            raise RegistryError(f"{self._at(unknown[0])}: unknown field")

    def string(self, key: str, default: Any = _MISSING) -> str:
        value = self._get(key, default)
        if not isinstance(value, str):
            raise RegistryError(f"{self._at(key)}: must be a string")
        return value

    def boolean(self, key: str, default: Any = _MISSING) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise RegistryError(f"{self._at(key)}: must be true or false")
        return value

    def integer(self, key: str, *, minimum: int, default: Any = _MISSING) -> int:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise RegistryError(f"{self._at(key)}: must be an integer >= {minimum}")
        return value

    def number(self, key: str, *, default: Any = _MISSING, positive: bool = False) -> float:
        value = self._get(key, default)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise RegistryError(f"{self._at(key)}: must be a number")
        if value < 0 or (positive and value == 0):
            raise RegistryError(f"{self._at(key)}: must be {'> 0' if positive else '>= 0'}")
        return float(value)

    def optional_number(self, key: str) -> float | None:
        if self._data.get(key) is None:
            self._seen.add(key)
            return None
        return self.number(key)

    def strings(self, key: str, default: Any = _MISSING) -> list[str]:
        value = self._get(key, default)
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise RegistryError(f"{self._at(key)}: must be an array of strings")
        return list(value)

    def optional_table(self, key: str) -> _Table | None:
        return None if self._data.get(key) is None else self.table(key)

    def table(self, key: str) -> _Table:
        value = self._get(key, _MISSING)
        if not isinstance(value, Mapping):
            raise RegistryError(f"{self._at(key)}: must be a table")
        return _Table(self._at(key), value)

    def array(self, key: str, *, required: bool = True) -> list[_Table]:
        value = self._get(key, _MISSING if required else [])
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise RegistryError(f"{self._at(key)}: must be an array of tables")
        return [_Table(f"{self._at(key)}[{i}]", v) for i, v in enumerate(value)]

    def subtables(self) -> Iterator[tuple[str, _Table]]:
        for key in list(self._data):
            yield key, self.table(key)
