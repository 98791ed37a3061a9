"""`python -m services.router`: run the router until SIGTERM."""

from __future__ import annotations

from services.kernel.service import run
from services.router.config import RouterConfig
from services.router.server import compose


def main() -> None:
    run("router", RouterConfig.from_env, compose)


if __name__ == "__main__":
    main()
