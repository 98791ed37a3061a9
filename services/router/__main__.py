"""`python -m services.router`: run the router until SIGTERM."""

from __future__ import annotations

from services.kernel.entry import run_service
from services.router.config import RouterConfig
from services.router.server import serve


def main() -> None:
    run_service("router", lambda: serve(RouterConfig.from_env()))


if __name__ == "__main__":
    main()
