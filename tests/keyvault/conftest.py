"""Key-vault fixtures: a real grpc.aio key vault on port 0 over SQLite or the real
PostgreSQL (a fresh schema per test, all dropped at the end of the session), Redis
under a unique key prefix, and the fake Secret Manager."""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import psycopg
import pytest
import redis
from agentopia.v1 import audit_service_pb2_grpc as audit_grpc
from agentopia.v1 import client_key_service_pb2_grpc as ck_grpc
from agentopia.v1 import provider_key_service_pb2_grpc as pk_grpc
from agentopia.v1 import routing_config_service_pb2_grpc as rc_grpc

from keyvault.config import KeyVaultConfig
from keyvault.provider_keys.validation import Validator
from tests.keyvault.fake_secret_manager import FakeSecretManager
from tests.keyvault.running import RunningKeyVault, start
from tests.support.backing import postgres_dsn, postgres_url, redis_url

ADMIN_KEY = "sk-agp-bootstrap-admin-" + "x" * 20
SERVICE_TOKEN = "svc-" + "t" * 28

_RUN = f"kv{os.getpid()}_{secrets.token_hex(3)}"
_SCHEMAS = itertools.count()


def admin(token: str = ADMIN_KEY) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


@pytest.fixture(scope="session")
def pg_schemas() -> Iterator[Callable[[], str]]:
    """Creates fresh schemas for this session; drops them all at the end."""
    created: list[str] = []

    def make() -> str:
        name = f"{_RUN}_{next(_SCHEMAS)}"
        with psycopg.connect(postgres_dsn(), autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
        created.append(name)
        return name

    yield make
    if created:
        with psycopg.connect(postgres_dsn(), autocommit=True) as conn:
            for name in created:
                conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


@pytest.fixture(scope="session")
def redis_prefix() -> Iterator[str]:
    """A key prefix of this run; its keys are deleted at the end of the session."""
    prefix = f"agentopia-test:{_RUN}"
    yield prefix
    client = redis.Redis.from_url(redis_url())
    try:
        for name in client.scan_iter(match=f"{prefix}*"):
            client.delete(name)
    finally:
        client.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_env(backend: str, tmp_path: Any, pg_schemas: Callable[[], str]) -> dict[str, str]:
    if backend == "postgres":
        return {
            "AGENTOPIA_KEYVAULT_DATABASE_URL": postgres_url(),
            "AGENTOPIA_KEYVAULT_DATABASE_SCHEMA": pg_schemas(),
            "AGENTOPIA_KEYVAULT_MIGRATE": "auto",
        }
    return {"AGENTOPIA_KEYVAULT_DATABASE_URL": f"sqlite:///{tmp_path / 'keyvault.db'}"}


@pytest.fixture
def make_config(
    tmp_path: Any, database_env: dict[str, str], redis_prefix: str
) -> Callable[..., KeyVaultConfig]:
    def make(**overrides: str) -> KeyVaultConfig:
        env = {
            "AGENTOPIA_DATA_DIR": str(tmp_path),
            "AGENTOPIA_ADMIN_KEY": ADMIN_KEY,
            "AGENTOPIA_KEYVAULT_SERVICE_TOKEN": SERVICE_TOKEN,
            "AGENTOPIA_KEYVAULT_POLL_INTERVAL_MS": "20",
            "AGENTOPIA_KEYVAULT_SWEEP_S": "0.05",
            "AGENTOPIA_PROMETHEUS_PORT": "0",
            "AGENTOPIA_LIMITS_REDIS_URL": redis_url(),
            "AGENTOPIA_LIMITS_PREFIX": redis_prefix,
            "AGENTOPIA_PROVIDER_TARGET": "127.0.0.1:9",
            **database_env,
            **overrides,
        }
        return KeyVaultConfig.from_env(env)

    return make


@dataclass
class Vault:
    """A running key vault and one stub per service it serves, over one channel."""

    running: RunningKeyVault
    channel: grpc.aio.Channel

    @property
    def config(self) -> KeyVaultConfig:
        return self.running.config

    @property
    def client_keys(self) -> ck_grpc.ClientKeyServiceAsyncStub:
        return ck_grpc.ClientKeyServiceStub(self.channel)

    @property
    def provider_keys(self) -> pk_grpc.ProviderKeyServiceAsyncStub:
        return pk_grpc.ProviderKeyServiceStub(self.channel)

    @property
    def routing(self) -> rc_grpc.RoutingConfigServiceAsyncStub:
        return rc_grpc.RoutingConfigServiceStub(self.channel)

    @property
    def audit(self) -> audit_grpc.AuditServiceAsyncStub:
        return audit_grpc.AuditServiceStub(self.channel)


@pytest.fixture
async def start_vault() -> AsyncIterator[Callable[..., Any]]:
    """Start any number of key vaults; all are stopped at the end of the test."""
    started: list[Vault] = []

    async def launch(config: KeyVaultConfig, validator: Validator | None = None) -> Vault:
        running = await start(config, validator=validator)
        vault = Vault(running, grpc.aio.insecure_channel(running.target))
        started.append(vault)
        return vault

    yield launch
    for vault in started:
        await vault.channel.close(None)
        await vault.running.stop()


@pytest.fixture
async def vault(
    start_vault: Callable[..., Any], make_config: Callable[..., KeyVaultConfig]
) -> Vault:
    result: Vault = await start_vault(make_config())
    return result


@pytest.fixture
async def fake_sm() -> AsyncIterator[FakeSecretManager]:
    fake = FakeSecretManager()
    await fake.start()
    yield fake
    await fake.stop()
