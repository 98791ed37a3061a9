"""The provider service's configuration, read once from the environment at start-up.

Which providers this process serves comes from the registry: the production ones,
plus the development ones (the fault-injecting mock) when `AGENTOPIA_DEMO=true`.
Each registered provider's own settings are read by the names its spec declares
(settings.py), so nothing here names a provider.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from keyvault.client.provider_keys import LeaseSettings
from services.kernel.config import ConfigError, env_bool, env_float, env_int, env_str
from services.kernel.exposition import ExpositionSettings
from services.kernel.identity import IdentitySettings
from services.provider.provider_spec import ProviderSpec
from services.provider.redact import Redactor
from services.provider.registry import registered
from services.provider.settings import PoolLimits, ProviderConfig, Timeouts, provider_config

__all__ = ["DEMO_ENV", "LISTEN_ENV", "ProviderServiceConfig"]

LISTEN_ENV = "AGENTOPIA_PROVIDER_LISTEN"
DEMO_ENV = "AGENTOPIA_DEMO"
DEFAULT_LISTEN = "127.0.0.1:50052"
DEFAULT_METRICS_TARGET = "127.0.0.1:50054"
DEFAULT_PROMETHEUS_PORT = 9102
_DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
_NO_EXPOSITION = ExpositionSettings(port=None)


def _no_providers() -> Mapping[str, ProviderConfig]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ProviderServiceConfig:
    listen: str = DEFAULT_LISTEN
    log_level: str = "INFO"
    grace_s: float = 10.0
    max_message_bytes: int = _DEFAULT_MAX_MESSAGE_BYTES
    # Development scaffolding (the mock provider) registered too.
    demo: bool = False
    specs: tuple[ProviderSpec, ...] = ()
    providers: Mapping[str, ProviderConfig] = field(default_factory=_no_providers)
    # Provider keys from the key vault (None: the environment's keys only).
    keyvault: LeaseSettings | None = None
    # Where the leased keys' health is reported (with the key vault only).
    metrics_target: str = DEFAULT_METRICS_TARGET
    exposition: ExpositionSettings = field(default_factory=lambda: _NO_EXPOSITION)
    # The provider service's workload identity and its callers' (services.kernel.identity).
    identity: IdentitySettings = field(default_factory=lambda: IdentitySettings("provider"))

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        specs: Sequence[ProviderSpec] | None = None,
    ) -> ProviderServiceConfig:
        """Read everything once; raises ConfigError naming the bad variable.

        `specs` replaces the registry's providers (tests register their own)."""
        source = os.environ if env is None else env
        demo = env_bool(DEMO_ENV, False, source)
        chosen = tuple(registered(demo=demo) if specs is None else specs)
        return cls(
            listen=env_str(LISTEN_ENV, DEFAULT_LISTEN, source),
            log_level=env_str("AGENTOPIA_LOG_LEVEL", "INFO", source),
            grace_s=env_float("AGENTOPIA_PROVIDER_GRACE_S", 10.0, source),
            max_message_bytes=env_int(
                "AGENTOPIA_PROVIDER_MAX_MESSAGE_BYTES",
                _DEFAULT_MAX_MESSAGE_BYTES,
                source,
                minimum=1024,
            ),
            demo=demo,
            specs=chosen,
            providers=_providers(chosen, source),
            keyvault=LeaseSettings.from_env(source),
            metrics_target=env_str("AGENTOPIA_METRICS_TARGET", DEFAULT_METRICS_TARGET, source),
            exposition=ExpositionSettings.from_env(DEFAULT_PROMETHEUS_PORT, source),
            identity=IdentitySettings.from_env("provider", source),
        )


def _providers(
    specs: Sequence[ProviderSpec], env: Mapping[str, str]
) -> Mapping[str, ProviderConfig]:
    timeouts = Timeouts.from_env(env)
    pool = PoolLimits.from_env(env)
    redactor = Redactor.of(spec.vocabulary for spec in specs)
    providers = {spec.name: provider_config(spec, env, timeouts, pool, redactor) for spec in specs}
    if len(providers) != len(specs):
        raise ConfigError("two registered providers share a name")
    return MappingProxyType(providers)
