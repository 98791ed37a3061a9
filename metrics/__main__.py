"""`python -m metrics` serves until SIGTERM; `python -m metrics migrate` brings the
database schema to head and exits (the explicit production step)."""

from __future__ import annotations

from metrics.config import MetricsConfig
from metrics.server import compose, migrate_schema
from services.kernel.service import run

if __name__ == "__main__":
    run("metrics", MetricsConfig.from_env, compose, commands={"migrate": migrate_schema})
