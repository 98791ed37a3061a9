"""`python -m services.provider`: the provider service."""

from __future__ import annotations

from services.kernel.service import run
from services.provider.config import ProviderServiceConfig
from services.provider.server import compose


def main() -> None:
    run("provider", ProviderServiceConfig.from_env, compose)


if __name__ == "__main__":
    main()
