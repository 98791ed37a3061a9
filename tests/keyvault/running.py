"""A key vault composed in-process, bound to a port of its own choosing (port 0) and
marked SERVING, with the same `compose` the entry point runs; `stop` drains it and
closes what it opened.

With `AGENTOPIA_KEYVAULT_MIGRATE=auto` the database is first brought to head here, in
the test process (as the explicit `python -m keyvault migrate` step would), so that
`compose` finds it current instead of starting a migration child process per test;
that child is tested on its own in test_storage.py."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from keyvault.config import KeyVaultConfig
from keyvault.provider_keys.validation import Validator
from keyvault.server import compose
from keyvault.storage import migrate
from keyvault.storage.database import make_engine
from services.kernel.hosting import ServiceHost
from services.kernel.service import Lifecycle

__all__ = ["RunningKeyVault", "start"]


@dataclass
class RunningKeyVault:
    config: KeyVaultConfig
    host: ServiceHost
    life: Lifecycle
    port: int

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def stop(self, grace_seconds: float = 0.0) -> None:
        await self.host.stop(grace_seconds)
        await self.life.close()


async def start(
    config: KeyVaultConfig, address: str = "127.0.0.1:0", *, validator: Validator | None = None
) -> RunningKeyVault:
    if config.migrate == "auto":
        await asyncio.to_thread(_migrate, config)
    life = Lifecycle()
    try:
        service = await compose(config, life, validator=validator)
        port = await service.host.start(address)
    except BaseException:
        await life.close()
        raise
    await service.host.mark_serving()
    return RunningKeyVault(config, service.host, life, port)


def _migrate(config: KeyVaultConfig) -> None:
    engine = make_engine(config.database_url, config.database_schema)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
