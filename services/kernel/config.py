"""Typed readers for environment variables that fail fast with a clear message."""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["ConfigError", "env_bool", "env_float", "env_int", "env_list", "env_str"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def _raw(name: str, env: Mapping[str, str] | None) -> str | None:
    return (os.environ if env is None else env).get(name)


def env_str(name: str, default: str, env: Mapping[str, str] | None = None) -> str:
    value = _raw(name, env)
    return default if value is None or value == "" else value


def env_int(
    name: str, default: int, env: Mapping[str, str] | None = None, *, minimum: int = 0
) -> int:
    value = _raw(name, env)
    if value is None or value == "":
        return default
    try:
        parsed = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {value!r}") from None
    if parsed < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {parsed}")
    return parsed


def env_float(
    name: str, default: float, env: Mapping[str, str] | None = None, *, minimum: float = 0.0
) -> float:
    value = _raw(name, env)
    if value is None or value == "":
        return default
    try:
        parsed = float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if parsed < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {parsed}")
    return parsed


def env_bool(name: str, default: bool, env: Mapping[str, str] | None = None) -> bool:
    value = _raw(name, env)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, got {value!r}")


def env_list(name: str, env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    value = _raw(name, env) or ""
    return tuple(item.strip() for item in value.split(",") if item.strip())
