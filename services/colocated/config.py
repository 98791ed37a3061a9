"""The colocated process's settings: the router's and the provider service's, each
read once from the same environment by its own reader (so every variable means what
it means for that service, and a bad one is reported by the same one line).

What one process makes moot: the router's `AGENTOPIA_PROVIDER_TARGET` (the provider
is in-process) and the provider's `AGENTOPIA_PROVIDER_LISTEN`, Prometheus port and
grace (the process listens on `AGENTOPIA_ROUTER_LISTEN`, serves one /metrics on the
router's port and drains within the router's `AGENTOPIA_DRAIN_GRACE_S`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from services.provider.config import ProviderServiceConfig
from services.router.config import RouterConfig

__all__ = ["ColocatedConfig"]


@dataclass(frozen=True, slots=True)
class ColocatedConfig:
    router: RouterConfig
    provider: ProviderServiceConfig

    @property
    def log_level(self) -> str:
        return self.router.log_level

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ColocatedConfig:
        """Both services' settings; raises ConfigError naming the bad variable."""
        source = os.environ if env is None else env
        return cls(
            router=RouterConfig.from_env(source),
            provider=ProviderServiceConfig.from_env(source),
        )
