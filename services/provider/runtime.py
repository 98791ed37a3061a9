"""The providers this process serves: their settings, pooled HTTP clients and adapters.

Built once at start-up from the registry and the config; `start()` opens one
keep-alive pool per configured provider and builds every adapter, `close()`
closes the pools.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from services.provider import errors
from services.provider.adapters.base import Adapter, Credential, UpstreamHttp
from services.provider.config import ProviderConfig, ServiceConfig
from services.provider.http import DisabledHttp, PooledHttp
from services.provider.provider_spec import ProviderSpec

__all__ = ["Provider", "ProviderRuntime"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Provider:
    """One registered provider, ready to call."""

    spec: ProviderSpec
    config: ProviderConfig
    adapter: Adapter
    default_credential: Credential | None

    def credential(self, credential_id: str) -> Credential | None:
        """The credential for a call; "" selects the provider's default key.

        Raises provider_not_configured when the provider needs a key and has none,
        credential_not_found for an id this instance does not hold."""
        if not self.config.configured:
            raise errors.provider_not_configured(self.spec.name, self.spec.api_key_env or "")
        default = self.default_credential
        if not credential_id or (default is not None and credential_id == default.key_id):
            return default
        raise errors.credential_not_found(self.spec.name, credential_id)


def _default_credential(spec: ProviderSpec, config: ProviderConfig) -> Credential | None:
    if not config.api_key:
        return None
    return Credential(key_id=f"env:{spec.api_key_env}", secret=config.api_key)


class ProviderRuntime:
    """Owns the adapters and their HTTP pools for the life of the process."""

    def __init__(self, config: ServiceConfig, specs: Sequence[ProviderSpec]) -> None:
        self._config = config
        self._specs = tuple(specs)
        self._pools: list[PooledHttp] = []
        self._providers: Mapping[str, Provider] = MappingProxyType({})
        self._started = False

    @property
    def started(self) -> bool:
        return self._started

    async def start(self) -> None:
        """Open the pools and build the adapters (the service is SERVING after this)."""
        built: dict[str, Provider] = {}
        for spec in self._specs:
            config = self._config.providers[spec.name]
            http: UpstreamHttp = DisabledHttp(spec.name)
            if config.uses_http and config.configured:
                pool = PooledHttp(
                    spec.name, config.base_url, timeouts=config.timeouts, pool=config.pool
                )
                await pool.start()
                self._pools.append(pool)
                http = pool
            adapter = spec.factory(config, http)
            built[spec.name] = Provider(spec, config, adapter, _default_credential(spec, config))
            _log.info(
                "provider %s ready (configured=%s)",
                spec.name,
                config.configured,
                extra={"provider": spec.name},
            )
        self._providers = MappingProxyType(built)
        self._started = True

    async def close(self) -> None:
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
