"""Provider service settings, read once from the environment at start-up.

Provider-specific names (API key and base URL variables, default base URL) are
declared by each provider's `ProviderSpec` (provider_spec.py), so nothing here
names a provider: `ServiceConfig.from_env(PROVIDERS)` reads one
`ProviderConfig` per registered spec.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from services.kernel.config import ConfigError, env_float, env_int, env_str

if TYPE_CHECKING:
    from services.provider.provider_spec import ProviderSpec

__all__ = [
    "DEFAULT_POOL",
    "DEFAULT_TIMEOUTS",
    "KeyVaultLink",
    "PoolLimits",
    "ProviderConfig",
    "ServiceConfig",
    "Timeouts",
]

LISTEN_ENV = "AGENTOPIA_PROVIDER_LISTEN"
DEFAULT_LISTEN = "127.0.0.1:50052"


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Upstream time limits, in seconds.

    connect_s: waiting for a pooled connection plus TCP/TLS connect.
    first_byte_s: from sending the request to the response headers.
    total_s: the whole exchange, body or stream included.
    stream_idle_s: the longest silence between two reads of a stream.
    """

    connect_s: float = 5.0
    first_byte_s: float = 120.0
    total_s: float = 600.0
    stream_idle_s: float = 60.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Timeouts:
        base = cls()
        return cls(
            connect_s=env_float("AGENTOPIA_UPSTREAM_CONNECT_TIMEOUT_S", base.connect_s, env),
            first_byte_s=env_float(
                "AGENTOPIA_UPSTREAM_FIRST_BYTE_TIMEOUT_S", base.first_byte_s, env
            ),
            total_s=env_float("AGENTOPIA_UPSTREAM_TOTAL_TIMEOUT_S", base.total_s, env),
            stream_idle_s=env_float(
                "AGENTOPIA_UPSTREAM_STREAM_IDLE_TIMEOUT_S", base.stream_idle_s, env
            ),
        )


@dataclass(frozen=True, slots=True)
class PoolLimits:
    """Keep-alive pool tuning, one pool per provider."""

    max_connections: int = 256
    keepalive_s: float = 30.0
    dns_ttl_s: int = 300
    max_error_body_bytes: int = 1 << 20

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PoolLimits:
        base = cls()
        return cls(
            max_connections=env_int(
                "AGENTOPIA_UPSTREAM_MAX_CONNECTIONS", base.max_connections, env, minimum=1
            ),
            keepalive_s=env_float("AGENTOPIA_UPSTREAM_KEEPALIVE_S", base.keepalive_s, env),
            dns_ttl_s=env_int("AGENTOPIA_UPSTREAM_DNS_TTL_S", base.dns_ttl_s, env),
        )


DEFAULT_TIMEOUTS = Timeouts()
DEFAULT_POOL = PoolLimits()


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """One provider's settings. `api_key` never appears in repr, logs or errors."""

    name: str
    base_url: str = ""
    api_key: str = field(default="", repr=False)
    requires_key: bool = True
    timeouts: Timeouts = Timeouts()
    pool: PoolLimits = PoolLimits()
    # Environment variables under the provider's declared prefix (e.g.
    # AGENTOPIA_MOCK_*), for adapters that read their own settings.
    options: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def configured(self) -> bool:
        """Whether calls can be made: a key is set, or none is needed."""
        return bool(self.api_key) or not self.requires_key

    @property
    def uses_http(self) -> bool:
        return bool(self.base_url)


@dataclass(frozen=True, slots=True)
class KeyVaultLink:
    """Where provider keys are leased from (services/provider/keys). `service_token` never
    appears in repr, logs or errors."""

    target: str
    service_token: str = field(repr=False)
    watcher: str = ""  # names this replica in the key vault's logs
    lease_wait_s: float = 5.0  # at start-up, how long to wait for the first lease
    report_interval_s: float = 0.5  # outcome batches (401/403/429 are sent at once)
    report_buffer: int = 10_000  # outcomes kept while the key vault is away

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> KeyVaultLink | None:
        """Set when both AGENTOPIA_KEYVAULT_TARGET and AGENTOPIA_KEYVAULT_SERVICE_TOKEN are."""
        target = env_str("AGENTOPIA_KEYVAULT_TARGET", "", env).strip()
        token = env_str("AGENTOPIA_KEYVAULT_SERVICE_TOKEN", "", env).strip()
        if not token:
            return None
        if not target:
            raise ConfigError(
                "AGENTOPIA_KEYVAULT_SERVICE_TOKEN is set but AGENTOPIA_KEYVAULT_TARGET is not: "
                "set the key vault's address (host:port) too"
            )
        return cls(
            target=target,
            service_token=token,
            watcher=f"provider@{socket.gethostname()}:{os.getpid()}",
            lease_wait_s=env_float("AGENTOPIA_PROVIDER_LEASE_WAIT_S", 5.0, env),
            report_interval_s=env_float(
                "AGENTOPIA_PROVIDER_KEY_REPORT_INTERVAL_S", 0.5, env, minimum=0.01
            ),
            report_buffer=env_int("AGENTOPIA_PROVIDER_KEY_REPORT_BUFFER", 10_000, env, minimum=1),
        )


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    listen: str = DEFAULT_LISTEN
    log_level: str = "INFO"
    grace_s: float = 10.0
    max_message_bytes: int = 64 * 1024 * 1024
    providers: Mapping[str, ProviderConfig] = field(default_factory=lambda: MappingProxyType({}))
    # Provider keys from the key vault (None: the environment's keys only).
    keyvault: KeyVaultLink | None = None

    @classmethod
    def from_env(
        cls, specs: Sequence[ProviderSpec], env: Mapping[str, str] | None = None
    ) -> ServiceConfig:
        """Read everything once; raises ConfigError naming the bad variable."""
        source = os.environ if env is None else env
        timeouts = Timeouts.from_env(source)
        pool = PoolLimits.from_env(source)
        providers = {spec.name: provider_config(spec, source, timeouts, pool) for spec in specs}
        if len(providers) != len(specs):
            raise ConfigError("two registered providers share a name")
        return cls(
            listen=env_str(LISTEN_ENV, DEFAULT_LISTEN, source),
            log_level=env_str("AGENTOPIA_LOG_LEVEL", "INFO", source),
            grace_s=env_float("AGENTOPIA_PROVIDER_GRACE_S", 10.0, source),
            max_message_bytes=env_int(
                "AGENTOPIA_PROVIDER_MAX_MESSAGE_BYTES", 64 * 1024 * 1024, source, minimum=1024
            ),
            providers=MappingProxyType(providers),
            keyvault=KeyVaultLink.from_env(source),
        )


def provider_config(
    spec: ProviderSpec, env: Mapping[str, str], timeouts: Timeouts, pool: PoolLimits
) -> ProviderConfig:
    """The settings of one registered provider, by the names its spec declares."""
    base_url = spec.default_base_url
    if spec.base_url_env:
        base_url = env_str(spec.base_url_env, spec.default_base_url, env)
    if base_url and not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"{spec.base_url_env} must be an http(s) URL, got {base_url!r}")
    api_key = env_str(spec.api_key_env, "", env).strip() if spec.api_key_env else ""
    options: dict[str, str] = {}
    if spec.options_prefix:
        options = {k: v for k, v in env.items() if k.startswith(spec.options_prefix)}
    return ProviderConfig(
        name=spec.name,
        base_url=base_url.rstrip("/"),
        api_key=api_key,
        requires_key=bool(spec.api_key_env),
        timeouts=timeouts,
        pool=pool,
        options=MappingProxyType(options),
    )
