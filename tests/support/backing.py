"""The PostgreSQL and Redis addresses every test uses, in one place.

tests/conftest.py sets them for the session (tools.backing: the configured servers
when they answer, throw-away ones otherwise); read them through these functions, at
call time, never into module constants: a conftest is imported before the session
has started its servers.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from tools.backing import POSTGRES_VAR, REDIS_VAR
from tools.backing.addresses import DEFAULT_POSTGRES, DEFAULT_REDIS

__all__ = ["postgres_address", "postgres_dsn", "postgres_url", "redis_url"]


def postgres_dsn() -> str:
    """libpq form, for psycopg: postgresql://postgres@HOST:PORT/test."""
    return os.environ.get(POSTGRES_VAR) or DEFAULT_POSTGRES


def postgres_url(host_port: str | None = None) -> str:
    """SQLAlchemy form (psycopg 3 driver), optionally through another HOST:PORT (a proxy)."""
    parts = urlsplit(postgres_dsn())
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = parts.netloc if host_port is None else f"{userinfo}@{host_port}"
    return f"postgresql+psycopg://{netloc}{parts.path}"


def postgres_address() -> tuple[str, int]:
    """The server's host and port, for tests that put a proxy in front of it."""
    parts = urlsplit(postgres_dsn())
    return parts.hostname or "127.0.0.1", parts.port or 5432


def redis_url() -> str:
    return os.environ.get(REDIS_VAR) or DEFAULT_REDIS
