"""Where the suite finds its PostgreSQL and Redis, and whether anything answers there."""

from __future__ import annotations

import socket

import psycopg
import redis

__all__ = [
    "DEFAULT_POSTGRES",
    "DEFAULT_REDIS",
    "LOOPBACK",
    "MODE_VAR",
    "POSTGRES_VAR",
    "REDIS_VAR",
    "free_port",
    "postgres_answers",
    "redis_answers",
]

POSTGRES_VAR = "AGENTOPIA_TEST_POSTGRES_URL"
REDIS_VAR = "AGENTOPIA_TEST_REDIS_URL"
# "auto" (default): use the configured servers when they answer; "throwaway": always
# start private ones (what the backing-services test and a clean-room run use).
MODE_VAR = "AGENTOPIA_TEST_BACKING"

# A developer's or CI's servers: trust auth, a database named "test".
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
LOOPBACK = "127.0.0.1"
_PROBE_TIMEOUT_S = 2.0


def postgres_answers(url: str) -> bool:
    """True when a PostgreSQL server accepts this URL and runs a query."""
    try:
        with psycopg.connect(url, connect_timeout=int(_PROBE_TIMEOUT_S)) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


def redis_answers(url: str) -> bool:
    """True when a Redis server at this URL answers PING."""
    client = redis.Redis.from_url(
        url, socket_timeout=_PROBE_TIMEOUT_S, socket_connect_timeout=_PROBE_TIMEOUT_S
    )
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def free_port() -> int:
    """A loopback port free at the time of asking. Neither server can bind port 0 and
    report it, so the starters retry when another program takes it first."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
    return port
