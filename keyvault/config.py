"""Key vault settings, read once from the environment; a bad value fails fast with a
`ConfigError` naming the variable."""

from __future__ import annotations

import pathlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from keyvault.crypto import imports
from services.kernel.config import ConfigError, env_float, env_int, env_str
from services.kernel.exposition import ExpositionSettings
from services.kernel.identity import IdentitySettings

__all__ = ["KeyVaultConfig"]

PROMETHEUS_PORT = 9103

_MIGRATE_MODES = ("auto", "off")
# An admin key is a bearer credential: 32 characters of a url-safe alphabet are 192 bits.
_MIN_ADMIN_KEY_CHARS = 32
_KEK_SOURCES = ("file", "secret-manager")


@dataclass(frozen=True, slots=True)
class KeyVaultConfig:
    listen: str
    database_url: str
    # PostgreSQL schema to use (search_path); empty = the server's default.
    database_schema: str
    # "auto": run `alembic upgrade head` at start; "off": only check the schema is current.
    migrate: str
    kek_source: str
    kek_file: pathlib.Path
    # Secret Manager secret holding the KEK, e.g. "projects/p/secrets/agentopia-kek".
    kek_secret: str
    # host:port of a Secret Manager endpoint reached without TLS (an emulator); empty = Google.
    secret_manager_endpoint: str
    # Provider keys are imported only from secrets whose id starts with this.
    secret_import_prefix: str
    admin_key: str = field(repr=False)
    # Bearer token the provider service presents for WatchProviderKeys/ReportKeyOutcomes.
    service_token: str = field(repr=False)
    poll_interval_s: float
    limits_redis_url: str
    limits_prefix: str
    # Bound on every Redis connect, read and write of the shared limiter (fail closed).
    limits_redis_timeout_s: float
    provider_target: str
    rotation_overlap_s: float
    sweep_interval_s: float
    drain_grace_s: float
    exposition: ExpositionSettings
    log_level: str
    # The key vault's workload identity and its callers' (services.kernel.identity).
    identity: IdentitySettings = field(default_factory=lambda: IdentitySettings("keyvault"))

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> KeyVaultConfig:
        data_dir = pathlib.Path(env_str("AGENTOPIA_DATA_DIR", "./var", env))
        url = env_str(
            "AGENTOPIA_KEYVAULT_DATABASE_URL", f"sqlite:///{data_dir / 'keyvault.db'}", env
        )
        migrate = env_str(
            "AGENTOPIA_KEYVAULT_MIGRATE", "auto" if url.startswith("sqlite") else "off", env
        )
        if migrate not in _MIGRATE_MODES:
            raise ConfigError(f"AGENTOPIA_KEYVAULT_MIGRATE must be auto or off, got {migrate!r}")
        kek_source = env_str("AGENTOPIA_KEK_SOURCE", "file", env)
        if kek_source not in _KEK_SOURCES:
            raise ConfigError(
                f"AGENTOPIA_KEK_SOURCE must be file or secret-manager, got {kek_source!r}"
            )
        kek_secret = env_str("AGENTOPIA_KEK_SECRET", "", env)
        if kek_source == "secret-manager" and not kek_secret:
            raise ConfigError(
                "AGENTOPIA_KEK_SECRET must name the Secret Manager secret holding the KEK "
                "(projects/<project>/secrets/<name>) when AGENTOPIA_KEK_SOURCE=secret-manager"
            )
        admin_key = env_str("AGENTOPIA_ADMIN_KEY", "", env)
        if admin_key and len(admin_key) < _MIN_ADMIN_KEY_CHARS:
            raise ConfigError(
                f"AGENTOPIA_ADMIN_KEY must be at least {_MIN_ADMIN_KEY_CHARS} random characters "
                f"long (got {len(admin_key)}); generate one with: "
                "python -c 'import secrets; print(\"sk-agp-\" + secrets.token_urlsafe(32))'"
            )
        return cls(
            listen=env_str("AGENTOPIA_KEYVAULT_LISTEN", "127.0.0.1:50053", env),
            database_url=url,
            database_schema=env_str("AGENTOPIA_KEYVAULT_DATABASE_SCHEMA", "", env),
            migrate=migrate,
            kek_source=kek_source,
            kek_file=pathlib.Path(env_str("AGENTOPIA_KEK_FILE", str(data_dir / "kek.key"), env)),
            kek_secret=kek_secret,
            secret_manager_endpoint=env_str("AGENTOPIA_SECRET_MANAGER_ENDPOINT", "", env),
            secret_import_prefix=env_str(
                "AGENTOPIA_SECRET_IMPORT_PREFIX", imports.DEFAULT_PREFIX, env
            ),
            admin_key=admin_key,
            service_token=env_str("AGENTOPIA_KEYVAULT_SERVICE_TOKEN", "", env),
            # Changes made on other replicas arrive within this (revoked within a second).
            poll_interval_s=env_int("AGENTOPIA_KEYVAULT_POLL_INTERVAL_MS", 500, env, minimum=10)
            / 1000,
            limits_redis_url=env_str("AGENTOPIA_LIMITS_REDIS_URL", "", env),
            limits_prefix=env_str("AGENTOPIA_LIMITS_PREFIX", "agentopia:limits", env),
            limits_redis_timeout_s=env_float("AGENTOPIA_LIMITS_REDIS_TIMEOUT_S", 1.0, env),
            provider_target=env_str("AGENTOPIA_PROVIDER_TARGET", "127.0.0.1:50052", env),
            rotation_overlap_s=env_float("AGENTOPIA_KEY_ROTATION_OVERLAP_S", 600.0, env),
            # The sweeper wakes when something is due; this bounds its sleep otherwise.
            sweep_interval_s=env_float("AGENTOPIA_KEYVAULT_SWEEP_S", 60.0, env, minimum=0.05),
            drain_grace_s=env_float("AGENTOPIA_DRAIN_GRACE_S", 5.0, env),
            exposition=ExpositionSettings.from_env(PROMETHEUS_PORT, env),
            log_level=env_str("AGENTOPIA_LOG_LEVEL", "INFO", env),
            identity=IdentitySettings.from_env("keyvault", env),
        )
