"""Router settings, read once from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from services.kernel.config import env_bool, env_float, env_int, env_str
from services.kernel.exposition import ExpositionSettings
from services.kernel.identity import IdentitySettings

__all__ = ["DEFAULT_PROMETHEUS_PORT", "RouterConfig"]

DEFAULT_PROMETHEUS_PORT = 9101


@dataclass(frozen=True, slots=True)
class RouterConfig:
    listen: str
    provider_target: str
    keyvault_target: str
    metrics_target: str
    # Bodies above this are refused with 413 before any parsing.
    max_body_bytes: int
    # A model registry file replacing the shipped services/router/routing/models.toml
    # (and the demo models with it).
    models_file: str
    # The development switch: adds the demo models (routing/demo_models.toml) to the
    # shipped registry. The provider service enables its fault-injecting
    # demo provider by the same one.
    demo: bool
    # A price table replacing the shipped metrics/client/pricing/prices.toml, for
    # admission estimates, `auto` price caps and the cost of usage events alike.
    prices_file: str
    drain_grace_s: float
    log_level: str
    # Shared limiter store for client-key limits across replicas ("" = in-process).
    limits_redis_url: str
    limits_prefix: str
    # Bound on every Redis connect, read and write of the shared limiter (fail closed).
    limits_redis_timeout_s: float
    # Active health checks / self-tests per deployment (0 disables).
    health_check_interval_s: float
    self_test_interval_s: float
    # Where /metrics is served (AGENTOPIA_PROMETHEUS_PORT; port None = off).
    exposition: ExpositionSettings
    # The router's workload identity and its callers' (services.kernel.identity).
    identity: IdentitySettings = field(default_factory=lambda: IdentitySettings("router"))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RouterConfig:
        return cls(
            listen=env_str("AGENTOPIA_ROUTER_LISTEN", "127.0.0.1:50051", env),
            provider_target=env_str("AGENTOPIA_PROVIDER_TARGET", "127.0.0.1:50052", env),
            keyvault_target=env_str("AGENTOPIA_KEYVAULT_TARGET", "127.0.0.1:50053", env),
            metrics_target=env_str("AGENTOPIA_METRICS_TARGET", "127.0.0.1:50054", env),
            max_body_bytes=env_int("AGENTOPIA_MAX_BODY_BYTES", 8 * 1024 * 1024, env, minimum=1024),
            models_file=env_str("AGENTOPIA_MODELS_FILE", "", env),
            demo=env_bool("AGENTOPIA_DEMO", False, env),
            prices_file=env_str("AGENTOPIA_PRICES_FILE", "", env),
            drain_grace_s=env_float("AGENTOPIA_DRAIN_GRACE_S", 30.0, env),
            log_level=env_str("AGENTOPIA_LOG_LEVEL", "INFO", env),
            limits_redis_url=env_str("AGENTOPIA_LIMITS_REDIS_URL", "", env),
            limits_prefix=env_str("AGENTOPIA_LIMITS_PREFIX", "agentopia:limits", env),
            limits_redis_timeout_s=env_float("AGENTOPIA_LIMITS_REDIS_TIMEOUT_S", 1.0, env),
            health_check_interval_s=env_float("AGENTOPIA_HEALTH_CHECK_INTERVAL_S", 60.0, env),
            self_test_interval_s=env_float("AGENTOPIA_SELF_TEST_INTERVAL_S", 900.0, env),
            exposition=ExpositionSettings.from_env(DEFAULT_PROMETHEUS_PORT, env),
            identity=IdentitySettings.from_env("router", env),
        )
