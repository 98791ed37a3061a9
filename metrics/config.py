"""Settings of the metrics service, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from services.kernel.config import ConfigError, env_float, env_str
from services.kernel.exposition import ExpositionSettings
from services.kernel.identity import IdentitySettings

__all__ = ["PROMETHEUS_PORT", "MetricsConfig"]

_MIGRATE_MODES = ("auto", "off")
PROMETHEUS_PORT = 9104


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    """Everything the metrics service reads from the environment, checked at start."""

    listen: str
    database_url: str
    migrate: str
    grace_s: float
    health_ttl_s: float
    log_level: str
    exposition: ExpositionSettings = field(default_factory=lambda: ExpositionSettings(None))
    # Report APIs authenticate callers from the key vault's pushed key table
    # (viewer or admin keys); "" turns that off (tests of the service alone).
    keyvault_target: str = ""
    # The metrics service's workload identity and its callers' (services.kernel.identity).
    identity: IdentitySettings = field(default_factory=lambda: IdentitySettings("metrics"))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> MetricsConfig:
        """Read and check every variable; a bad one raises ConfigError naming it."""
        source = os.environ if env is None else env
        data_dir = env_str("AGENTOPIA_DATA_DIR", "./var", source)
        migrate = env_str("AGENTOPIA_METRICS_MIGRATE", "auto", source).lower()
        if migrate not in _MIGRATE_MODES:
            raise ConfigError(f"AGENTOPIA_METRICS_MIGRATE must be auto or off, got {migrate!r}")
        return cls(
            listen=env_str("AGENTOPIA_METRICS_LISTEN", "127.0.0.1:50054", source),
            database_url=env_str(
                "AGENTOPIA_METRICS_DATABASE_URL", f"sqlite:///{data_dir}/metrics.db", source
            ),
            migrate=migrate,
            grace_s=env_float("AGENTOPIA_METRICS_GRACE_S", 10.0, source),
            health_ttl_s=env_float("AGENTOPIA_METRICS_HEALTH_TTL_S", 30.0, source, minimum=1.0),
            log_level=env_str("AGENTOPIA_LOG_LEVEL", "INFO", source),
            exposition=ExpositionSettings.from_env(PROMETHEUS_PORT, source),
            keyvault_target=env_str("AGENTOPIA_KEYVAULT_TARGET", "127.0.0.1:50053", source),
            identity=IdentitySettings.from_env("metrics", source),
        )
