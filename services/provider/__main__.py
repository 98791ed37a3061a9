"""`python -m services.provider`: the provider service."""

from __future__ import annotations

from services.kernel.entry import run_service
from services.provider.server import load_config, serve


def main() -> None:
    run_service("provider", lambda: serve(load_config()))


if __name__ == "__main__":
    main()
