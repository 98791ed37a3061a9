"""Where provider keys are leased from, and how the lease behaves."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field

from services.kernel.config import ConfigError, env_float, env_int, env_str
from services.kernel.identity import IdentitySettings

__all__ = ["LeaseSettings"]


@dataclass(frozen=True, slots=True)
class LeaseSettings:
    """The key vault to lease provider keys from. `service_token` never appears in
    repr, logs or errors."""

    target: str
    service_token: str = field(repr=False)
    watcher: str = ""  # names this replica in the key vault's logs
    lease_wait_s: float = 5.0  # at start-up, how long to wait for the first snapshot
    report_interval_s: float = 0.5  # outcome batches (401/403/429 are sent at once)
    report_buffer: int = 10_000  # outcomes kept while the key vault is away
    # The workload identity the lease presents besides the service token.
    identity: IdentitySettings = field(default_factory=lambda: IdentitySettings("provider"))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LeaseSettings | None:
        """Set when AGENTOPIA_KEYVAULT_SERVICE_TOKEN is (None: no lease); then
        AGENTOPIA_KEYVAULT_TARGET is required."""
        source = os.environ if env is None else env
        target = env_str("AGENTOPIA_KEYVAULT_TARGET", "", source).strip()
        token = env_str("AGENTOPIA_KEYVAULT_SERVICE_TOKEN", "", source).strip()
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
            lease_wait_s=env_float("AGENTOPIA_PROVIDER_LEASE_WAIT_S", 5.0, source),
            report_interval_s=env_float(
                "AGENTOPIA_PROVIDER_KEY_REPORT_INTERVAL_S", 0.5, source, minimum=0.01
            ),
            report_buffer=env_int(
                "AGENTOPIA_PROVIDER_KEY_REPORT_BUFFER", 10_000, source, minimum=1
            ),
            identity=IdentitySettings.from_env("provider", source),
        )
