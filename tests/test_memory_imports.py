"""What each long-running service process holds: composed in its default configuration
(SQLite under a fresh data directory, no Redis, no tracing, the key-encryption key
from a file), it has not imported the heavy libraries it never uses on that path.

Each service is composed in a subprocess of its own (a clean `sys.modules`), with the
same `compose` its entry point runs; the key vault and the metrics service meet a fresh
database there, so their start-up migration runs too (in a child of that subprocess).
The assertions are about module names, never about memory numbers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from tests.support.ports import refused_port

ROOT = Path(__file__).resolve().parents[1]

# Prints which of argv[4:] (module names) the composed service has imported.
_COMPOSE = """
import asyncio, importlib, json, sys
from services.kernel.service import Lifecycle

config_module, config_class, server_module, *watched = sys.argv[1:]

async def compose() -> None:
    config = getattr(importlib.import_module(config_module), config_class).from_env()
    life = Lifecycle()
    try:
        await importlib.import_module(server_module).compose(config, life)
    finally:
        await life.close()

asyncio.run(compose())
loaded = {name.split(".")[0] for name in sys.modules} | set(sys.modules)
print(json.dumps(sorted(name for name in watched if name in loaded)))
"""

# Loaded only when configured: tracing (OTEL_*), Redis limits, Secret Manager, PostgreSQL;
# migrations only in the short-lived `migrate` child.
_OPTIONAL = (
    "alembic",
    "mako",
    "redis",
    "google.cloud.secretmanager",
    "opentelemetry.sdk",
    "opentelemetry.exporter",
    "opentelemetry.instrumentation",
    "psycopg",
    "psycopg2",
    "sqlalchemy.dialects.postgresql",
)

# service -> (config module, config class, server module, modules it must not hold)
SERVICES: Mapping[str, tuple[str, str, str, tuple[str, ...]]] = {
    "keyvault": ("keyvault.config", "KeyVaultConfig", "keyvault.server", _OPTIONAL),
    "metrics": ("metrics.config", "MetricsConfig", "metrics.server", (*_OPTIONAL, "cryptography")),
    "router": (
        "services.router.config",
        "RouterConfig",
        "services.router.server",
        (*_OPTIONAL, "sqlalchemy", "cryptography"),
    ),
    "provider": (
        "services.provider.config",
        "ProviderServiceConfig",
        "services.provider.server",
        (*_OPTIONAL, "sqlalchemy"),
    ),
}


@pytest.fixture
def nobody() -> Iterator[str]:
    """An address that refuses connections (the peers a service would follow)."""
    with refused_port() as port:
        yield f"127.0.0.1:{port}"


def composed_imports(
    service: str, watched: tuple[str, ...], data: Path, peer: str, **env: str
) -> list[str]:
    config_module, config_class, server_module, _ = SERVICES[service]
    child_env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AGENTOPIA_", "OTEL_"))
    }
    child_env |= {
        "AGENTOPIA_DATA_DIR": str(data),
        "AGENTOPIA_DEMO": "true",
        "AGENTOPIA_PROMETHEUS_PORT": "0",
        "AGENTOPIA_LOG_LEVEL": "WARNING",
        "AGENTOPIA_KEYVAULT_TARGET": peer,
        "AGENTOPIA_METRICS_TARGET": peer,
        "AGENTOPIA_PROVIDER_TARGET": peer,
        **env,
    }
    done = subprocess.run(
        [sys.executable, "-c", _COMPOSE, config_module, config_class, server_module, *watched],
        cwd=ROOT,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    loaded: list[str] = json.loads(done.stdout.splitlines()[-1])
    return loaded


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_a_service_in_its_default_configuration_holds_no_optional_library(
    service: str, tmp_path: Path, nobody: str
) -> None:
    forbidden = SERVICES[service][3]
    assert composed_imports(service, forbidden, tmp_path, nobody) == []


def test_the_check_sees_an_optional_library_once_it_is_configured(
    tmp_path: Path, nobody: str
) -> None:
    # The same probe, with a Redis URL: the limiter's client is then loaded (it connects
    # only when first used, so nothing needs to listen there).
    loaded = composed_imports(
        "keyvault",
        ("redis", "alembic"),
        tmp_path,
        nobody,
        AGENTOPIA_LIMITS_REDIS_URL=f"redis://{nobody}/0",
    )
    assert loaded == ["redis"]
