"""Settings of the metrics service, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from services.kernel.config import ConfigError, env_float, env_int, env_str

__all__ = ["MetricsConfig"]

_MIGRATE_MODES = ("auto", "off")


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    listen: str
    database_url: str
    migrate: str
    prometheus_port: int
    prometheus_addr: str
    grace_s: float
    health_ttl_s: float
    log_level: str
    # Report APIs authenticate callers from the key vault's pushed key table
    # (viewer or admin keys); "" turns that off (tests of the service alone).
    keyvault_target: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> MetricsConfig:
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
            prometheus_port=env_int("AGENTOPIA_PROMETHEUS_PORT", 9104, source),
            prometheus_addr=env_str("AGENTOPIA_PROMETHEUS_ADDR", "127.0.0.1", source),
            grace_s=env_float("AGENTOPIA_METRICS_GRACE_S", 10.0, source),
            health_ttl_s=env_float("AGENTOPIA_METRICS_HEALTH_TTL_S", 30.0, source, minimum=1.0),
            log_level=env_str("AGENTOPIA_LOG_LEVEL", "INFO", source),
            keyvault_target=env_str("AGENTOPIA_KEYVAULT_TARGET", "127.0.0.1:50053", source),
        )
