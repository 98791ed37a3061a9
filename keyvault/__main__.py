"""`python -m keyvault` serves until SIGTERM; `python -m keyvault migrate` brings the
database schema to head and exits (the explicit production step)."""

from __future__ import annotations

from keyvault.config import KeyVaultConfig
from keyvault.server import compose, migrate_schema
from services.kernel.service import run

if __name__ == "__main__":
    run("keyvault", KeyVaultConfig.from_env, compose, commands={"migrate": migrate_schema})
