"""The providers this process serves: their settings, pooled HTTP clients and adapters.

Built once at start-up from the config (which says which registered providers are
served); `start()` opens one keep-alive pool per provider that can be called and
builds every adapter; `lease` (when the key vault is configured) is the provider-key
lease, which the composition root runs; `close()` closes the pools and the lease.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from keyvault.client.provider_keys import ProviderKeyLease, credential_not_found
from services.provider import errors
from services.provider.adapters.base import Adapter, Credential, UpstreamHttp
from services.provider.config import ProviderServiceConfig
from services.provider.http import DisabledHttp, PooledHttp
from services.provider.provider_spec import ProviderSpec
from services.provider.settings import ProviderConfig

__all__ = ["Provider", "ProviderRuntime"]

_log = logging.getLogger(__name__)
ENV_PREFIX = "env:"  # `env:<VAR>` names the environment's key explicitly


@dataclass(frozen=True, slots=True)
class Provider:
    """One registered provider, ready to call."""

    spec: ProviderSpec
    config: ProviderConfig
    adapter: Adapter
    default_credential: Credential | None
    keys: ProviderKeyLease | None = None  # provider keys leased from the key vault

    @property
    def configured(self) -> bool:
        """A call can get a credential: an environment key, a leased key, or none needed."""
        return self.config.configured or (
            self.keys is not None and self.keys.has_keys(self.spec.name)
        )

    def credential(self, credential_id: str) -> Credential | None:
        """The credential for a call. `credential_id`: "" = the provider's default pool,
        a leased key's id = that key, another text = the pool of keys with that label
        (keyvault.client.provider_keys), `env:<VAR>` = the environment's key. The
        environment's key serves only when the key vault holds no key for that provider
        (or has not answered yet).

        Raises provider_not_configured when the provider needs a key and has none usable,
        credential_not_found for an id this instance does not hold."""
        keys = self.keys
        if keys is not None and not credential_id.startswith(ENV_PREFIX):
            leased = keys.credential(
                self.spec.name, credential_id, required=self.config.requires_key
            )
            if leased is not None:
                return leased
            if not keys.ready and (credential_id or not self.config.configured):
                raise errors.service_starting()  # the lease may hold it: retry shortly
        return self._environment_credential(credential_id)

    def _environment_credential(self, credential_id: str) -> Credential | None:
        if not self.config.configured:
            raise errors.provider_not_configured(self.spec.name, self.spec.api_key_env or "")
        default = self.default_credential
        if not credential_id or (default is not None and credential_id == default.key_id):
            return default
        raise credential_not_found(self.spec.name, credential_id)


def _default_credential(spec: ProviderSpec, config: ProviderConfig) -> Credential | None:
    if not config.api_key:
        return None
    return Credential(key_id=f"{ENV_PREFIX}{spec.api_key_env}", secret=config.api_key)


class ProviderRuntime:
    """Owns the adapters, their HTTP pools and the key lease for the life of the process."""

    def __init__(self, config: ProviderServiceConfig) -> None:
        self._config = config
        self._specs = config.specs
        self._pools: list[PooledHttp] = []
        self._providers: Mapping[str, Provider] = MappingProxyType({})
        self.lease: ProviderKeyLease | None = None
        if config.keyvault is not None:
            self.lease = ProviderKeyLease(config.keyvault, [spec.name for spec in self._specs])
        self._started = False

    @property
    def specs(self) -> tuple[ProviderSpec, ...]:
        return self._specs

    def key_health(self) -> list[tuple[str, str, int]]:
        """Leased keys' health for Prometheus (empty without the key vault)."""
        return self.lease.index.health() if self.lease is not None else []

    @property
    def started(self) -> bool:
        return self._started

    async def start(self) -> None:
        """Open the pools and build the adapters (an adapter's bad settings raise
        ConfigError here, before the service binds its port)."""
        built: dict[str, Provider] = {}
        for spec in self._specs:
            config = self._config.providers[spec.name]
            http = await self._http_for(spec, config)
            adapter = spec.factory(config, http)
            provider = Provider(
                spec, config, adapter, _default_credential(spec, config), self.lease
            )
            built[spec.name] = provider
            _log.info(
                "provider %s ready (configured=%s)",
                spec.name,
                provider.configured,
                extra={"provider": spec.name},
            )
        self._providers = MappingProxyType(built)
        self._started = True

    async def _http_for(self, spec: ProviderSpec, config: ProviderConfig) -> UpstreamHttp:
        # With the key vault, a key may be added at any time: every provider gets a pool.
        if not config.uses_http or not (config.configured or self.lease is not None):
            return DisabledHttp(spec.name)
        pool = PooledHttp(spec.name, config.base_url, timeouts=config.timeouts, pool=config.pool)
        await pool.start()
        self._pools.append(pool)
        return pool

    async def close(self) -> None:
        lease, self.lease = self.lease, None
        if lease is not None:
            await lease.close()  # sends the outcomes still buffered
        pools, self._pools = self._pools, []
        for pool in pools:
            await pool.close()

    def get(self, name: str) -> Provider:
        """The provider called `name`; raises a GatewayError when there is none."""
        provider = self._providers.get(name)
        if provider is not None:
            return provider
        if not self._started:
            raise errors.service_starting()
        raise errors.provider_not_found(name, self._providers)

    def providers(self) -> tuple[Provider, ...]:
        return tuple(self._providers.values())
