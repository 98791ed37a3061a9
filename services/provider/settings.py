"""One provider's settings, read once from the environment at start-up.

Provider-specific names (API key and base URL variables, default base URL) are
declared by each provider's `ProviderSpec` (provider_spec.py), so nothing here
names a provider: `provider_config(spec, env, ...)` reads one `ProviderConfig`
by the names the spec declares. The service's own settings are in config.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from services.kernel.config import ConfigError, env_float, env_int, env_str
from services.provider.redact import GENERIC_REDACTOR, Redactor

if TYPE_CHECKING:
    from services.provider.provider_spec import ProviderSpec

__all__ = [
    "DEFAULT_POOL",
    "DEFAULT_TIMEOUTS",
    "PoolLimits",
    "ProviderConfig",
    "Timeouts",
    "provider_config",
]


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
    # Bounds on what an upstream may send, so that a broken or hostile endpoint cannot
    # grow the provider service without limit: a whole non-streaming body (large
    # enough for a 2,048-input embeddings answer in float JSON) and one SSE event.
    max_response_bytes: int = 256 << 20
    max_event_bytes: int = 8 << 20

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PoolLimits:
        base = cls()
        return cls(
            max_connections=env_int(
                "AGENTOPIA_UPSTREAM_MAX_CONNECTIONS", base.max_connections, env, minimum=1
            ),
            keepalive_s=env_float("AGENTOPIA_UPSTREAM_KEEPALIVE_S", base.keepalive_s, env),
            dns_ttl_s=env_int("AGENTOPIA_UPSTREAM_DNS_TTL_S", base.dns_ttl_s, env),
            max_response_bytes=env_int(
                "AGENTOPIA_UPSTREAM_MAX_RESPONSE_BYTES", base.max_response_bytes, env, minimum=1024
            ),
            max_event_bytes=env_int(
                "AGENTOPIA_UPSTREAM_MAX_EVENT_BYTES", base.max_event_bytes, env, minimum=1024
            ),
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
    # Scrubs secrets from what the upstream says: every registered provider's key
    # shapes (Redactor.of over the registry), not only this provider's.
    redactor: Redactor = GENERIC_REDACTOR

    @property
    def configured(self) -> bool:
        """Whether calls can be made: a key is set, or none is needed."""
        return bool(self.api_key) or not self.requires_key

    @property
    def uses_http(self) -> bool:
        return bool(self.base_url)


def provider_config(
    spec: ProviderSpec,
    env: Mapping[str, str],
    timeouts: Timeouts,
    pool: PoolLimits,
    redactor: Redactor = GENERIC_REDACTOR,
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
        redactor=redactor,
    )
