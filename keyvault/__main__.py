"""`python -m keyvault` serves until SIGTERM; `python -m keyvault migrate` brings the
database schema to head and exits (the explicit production step)."""

from __future__ import annotations

import asyncio
import sys

from keyvault.config import KeyVaultConfig
from keyvault.server import serve
from keyvault.storage import migrate
from keyvault.storage.database import make_engine
from services.kernel.logs import configure_logging


def main(argv: list[str]) -> int:
    config = KeyVaultConfig.from_env()
    if argv[:1] == ["migrate"]:
        configure_logging("keyvault", config.log_level)
        engine = make_engine(config.database_url, config.database_schema)
        try:
            migrate.upgrade(engine)
        finally:
            engine.dispose()
        return 0
    if argv:
        sys.stderr.write("usage: python -m keyvault [migrate]\n")
        return 2
    asyncio.run(serve(config))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
