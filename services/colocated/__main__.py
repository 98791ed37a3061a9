"""`python -m services.colocated`: the router and the provider service in one process."""

from __future__ import annotations

from services.colocated.config import ColocatedConfig
from services.colocated.server import compose
from services.kernel.service import run


def main() -> None:
    run("colocated", ColocatedConfig.from_env, compose)


if __name__ == "__main__":
    main()
