"""The suite brings its own PostgreSQL and Redis: throw-away servers from the lock
file's wheels, on free ports, used by real PostgreSQL- and Redis-backed tests even
while the machine's own servers are up, and gone when the session ends."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
from collections.abc import Iterator

import psycopg
import pytest
import redis

from tests.support.ports import refused_port
from tools.backing import MODE_VAR, POSTGRES_VAR, REDIS_VAR, backing_services
from tools.backing.addresses import postgres_answers, redis_answers

ROOT = pathlib.Path(__file__).resolve().parents[2]
# One PostgreSQL-backed and one Redis-backed test module of the suite, run as they are.
BACKED = (
    ("tests/keyvault/test_watch.py", "postgres"),
    ("tests/keyvault/test_limits_replicas.py", ""),
)


@pytest.fixture(scope="module")
def throwaway() -> Iterator[dict[str, str]]:
    with backing_services({MODE_VAR: "throwaway"}) as found:
        yield found


def commits(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    assert row is not None
    return int(row[0])


def commands(url: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        return int(client.info("stats")["total_commands_processed"])
    finally:
        client.close()


def test_throwaway_servers_listen_on_ports_of_their_own(throwaway: dict[str, str]) -> None:
    assert set(throwaway) == {POSTGRES_VAR, REDIS_VAR}
    assert ":5432/" not in throwaway[POSTGRES_VAR]
    assert ":6379/" not in throwaway[REDIS_VAR]
    with psycopg.connect(throwaway[POSTGRES_VAR]) as conn:
        version = conn.execute("SHOW server_version").fetchone()
        database = conn.execute("SELECT current_database()").fetchone()
    assert version is not None and version[0].startswith("18.")  # the wheel's, not the machine's
    assert database == ("test",)
    assert redis.Redis.from_url(throwaway[REDIS_VAR]).ping()


@pytest.mark.parametrize(("module", "marker"), BACKED)
def test_backed_tests_pass_against_the_throwaway_servers(
    throwaway: dict[str, str], module: str, marker: str
) -> None:
    before = commits(throwaway[POSTGRES_VAR]), commands(throwaway[REDIS_VAR])
    env = {**os.environ, **throwaway}
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", module]
    if marker:
        argv += ["-m", marker]
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert " passed" in done.stdout.splitlines()[-1]
    after = commits(throwaway[POSTGRES_VAR]), commands(throwaway[REDIS_VAR])
    # The run's queries reached the throw-away servers (and, by their addresses, no other).
    used = after[0] > before[0] if marker == "postgres" else after[1] > before[1]
    assert used, (before, after)


def test_a_configured_server_that_answers_is_used_as_it_is(throwaway: dict[str, str]) -> None:
    with backing_services(throwaway) as found:
        assert found == throwaway


def test_nobody_answering_starts_servers_that_stop_with_the_block() -> None:
    with refused_port() as port:
        configured = {
            POSTGRES_VAR: f"postgresql://postgres@127.0.0.1:{port}/test",
            REDIS_VAR: f"redis://127.0.0.1:{port}/0",
        }
        with backing_services(configured) as found:
            assert found[POSTGRES_VAR] != configured[POSTGRES_VAR]
            assert found[REDIS_VAR] != configured[REDIS_VAR]
            assert postgres_answers(found[POSTGRES_VAR])
            assert redis_answers(found[REDIS_VAR])
    assert not postgres_answers(found[POSTGRES_VAR])
    assert not redis_answers(found[REDIS_VAR])


def test_an_unknown_mode_is_refused_with_the_variable_named() -> None:
    with pytest.raises(ValueError, match=MODE_VAR), backing_services({MODE_VAR: "docker"}):
        pass
