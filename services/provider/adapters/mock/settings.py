"""Mock provider behaviour: latency, pacing and injected faults.

Three layers, each overriding the one before:
1. environment defaults (AGENTOPIA_MOCK_*; see `ENV_NAMES`),
2. a per-model profile (built-ins `BUILTIN_PROFILES`, extended or replaced by
   AGENTOPIA_MOCK_PROFILES, a JSON object `{"flaky": {"fault_rate": 0.5, ...}}`),
   picked by the model name without its `mock/` prefix,
3. the request's own optional `"mock": {...}` object.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import orjson

from services.kernel.config import ConfigError

__all__ = [
    "BUILTIN_PROFILES",
    "ENV_NAMES",
    "MockProfiles",
    "MockSettings",
    "SettingsError",
]

ENV_PREFIX = "AGENTOPIA_MOCK_"
PROFILES_ENV = "AGENTOPIA_MOCK_PROFILES"


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class SettingsError(ValueError):
    """A mock setting is malformed; the message names it."""


@dataclass(frozen=True, slots=True)
class MockSettings:
    latency_ms: float = 0.0  # before the first token (or the whole response)
    chunk_delay_ms: float = 0.0  # between streamed chunks
    chunk_words: int = 1  # words per streamed content chunk
    fault_status: int = 0  # upstream HTTP status to fail with (0: none)
    fault_rate: float | None = None  # share of calls that fault; None: 1 if a fault is set
    fault_seed: int | None = None  # None: an evenly spaced deterministic sequence
    hang: bool = False  # a fault hangs until the first-byte timeout
    fail_after_chunks: int = -1  # a faulting stream breaks after this many chunks
    retry_after_s: float | None = None  # Retry-After sent with a fault
    reply: str = ""  # fixed reply text instead of the derived one

    @property
    def has_fault(self) -> bool:
        return bool(self.fault_status) or self.hang or self.fail_after_chunks >= 0

    @property
    def effective_fault_rate(self) -> float:
        if self.fault_rate is not None:
            return self.fault_rate
        return 1.0 if self.has_fault else 0.0

    def merged(self, overrides: Mapping[str, Any]) -> MockSettings:
        """These settings with `overrides` (JSON-typed values) applied and validated."""
        changes: dict[str, Any] = {}
        for key, value in overrides.items():
            parse = _PARSERS.get(key)
            if parse is None:
                known = ", ".join(sorted(_PARSERS))
                raise SettingsError(f"unknown mock setting {key!r} (known: {known})")
            changes[key] = parse(key, value)
        return dataclasses.replace(self, **changes)


def _number(key: str, value: Any, low: float, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise SettingsError(f"mock setting {key} must be a number")
    try:
        number = float(value)
    except ValueError:
        raise SettingsError(f"mock setting {key} must be a number, got {value!r}") from None
    if number < low or (high is not None and number > high):
        bound = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise SettingsError(f"mock setting {key} must be {bound}, got {number:g}")
    return number


def _integer(key: str, value: Any, low: int) -> int:
    number = _number(key, value, low)
    if number != int(number):
        raise SettingsError(f"mock setting {key} must be an integer, got {value!r}")
    return int(number)


def _status(key: str, value: Any) -> int:
    status = _integer(key, value, 0)
    if status and not 400 <= status <= 599:
        raise SettingsError(f"mock setting {key} must be 0 or an HTTP error status (400-599)")
    return status


def _flag(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise SettingsError(f"mock setting {key} must be true or false")


def _optional(parse: Any) -> Any:
    def parse_optional(key: str, value: Any) -> Any:
        return None if value is None or value == "" else parse(key, value)

    return parse_optional


def _text(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise SettingsError(f"mock setting {key} must be a string")
    return value


_PARSERS: Mapping[str, Any] = MappingProxyType(
    {
        "latency_ms": lambda k, v: _number(k, v, 0.0),
        "chunk_delay_ms": lambda k, v: _number(k, v, 0.0),
        "chunk_words": lambda k, v: _integer(k, v, 1),
        "fault_status": _status,
        "fault_rate": _optional(lambda k, v: _number(k, v, 0.0, 1.0)),
        "fault_seed": _optional(lambda k, v: _integer(k, v, 0)),
        "hang": _flag,
        "fail_after_chunks": lambda k, v: _integer(k, v, -1),
        "retry_after_s": _optional(lambda k, v: _number(k, v, 0.0)),
        "reply": _text,
    }
)

# AGENTOPIA_MOCK_<SETTING> for every setting, e.g. AGENTOPIA_MOCK_LATENCY_MS.
ENV_NAMES: Mapping[str, str] = MappingProxyType({ENV_PREFIX + key.upper(): key for key in _PARSERS})

BUILTIN_PROFILES: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        "flaky": {"fault_status": 503, "fault_rate": 0.5},
        "broken": {"fault_status": 500},
        "overloaded": {"fault_status": 529},
        "ratelimited": {"fault_status": 429, "retry_after_s": 1},
        "unauthorized": {"fault_status": 401},
        "slow": {"latency_ms": 1500, "chunk_delay_ms": 40},
        "hang": {"hang": True},
        "midstream": {"fail_after_chunks": 3},
    }
)


def _model_key(model: str) -> str:
    return model.removeprefix("mock/")


@dataclass(frozen=True, slots=True)
class MockProfiles:
    """Environment defaults plus per-model profiles, read once at start-up."""

    defaults: MockSettings = MockSettings()
    profiles: Mapping[str, MockSettings] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_env(cls, options: Mapping[str, str]) -> MockProfiles:
        """From the AGENTOPIA_MOCK_* variables; raises ConfigError naming the bad one."""
        try:
            defaults = MockSettings().merged(
                {ENV_NAMES[name]: value for name, value in options.items() if name in ENV_NAMES}
            )
        except SettingsError as exc:
            raise ConfigError(f"{ENV_PREFIX}*: {exc}") from None
        raw: dict[str, Any] = {name: dict(p) for name, p in BUILTIN_PROFILES.items()}
        text = options.get(PROFILES_ENV, "").strip()
        if text:
            try:
                loaded = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                raise ConfigError(f"{PROFILES_ENV} is not valid JSON: {exc}") from None
            if not isinstance(loaded, dict) or not all(
                isinstance(v, dict) for v in loaded.values()
            ):
                raise ConfigError(f"{PROFILES_ENV} must map model names to objects")
            raw.update({_model_key(name): value for name, value in loaded.items()})
        try:
            profiles = {name: defaults.merged(values) for name, values in raw.items()}
        except SettingsError as exc:
            raise ConfigError(f"{PROFILES_ENV}: {exc}") from None
        return cls(defaults=defaults, profiles=MappingProxyType(profiles))

    def for_model(self, model: str) -> MockSettings:
        return self.profiles.get(_model_key(model), self.defaults)

    def resolve(self, model: str, request_overrides: Any) -> MockSettings:
        """The settings of one call; raises SettingsError for a bad `mock` object.

        `{"mock": {"by_model": {"<upstream id>": {...}}}}` applies settings to one
        upstream model only, so a request that fails over (same body, another
        deployment) can fault on its primary and succeed on its fallback."""
        base = self.for_model(model)
        if request_overrides is None:
            return base
        if not isinstance(request_overrides, dict):
            raise SettingsError("'mock' must be an object")
        overrides = dict(request_overrides)
        by_model = overrides.pop("by_model", None)
        if by_model is not None and not (
            isinstance(by_model, dict) and all(isinstance(v, dict) for v in by_model.values())
        ):
            raise SettingsError("'mock.by_model' must map model names to objects")
        settings = base.merged(overrides) if overrides else base
        specific = (by_model or {}).get(_model_key(model))
        return settings.merged(specific) if specific else settings
