"""The suite's backing services: the configured ones when they answer, else throw-away."""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from tools.backing.addresses import (
    DEFAULT_POSTGRES,
    DEFAULT_REDIS,
    MODE_VAR,
    POSTGRES_VAR,
    REDIS_VAR,
    postgres_answers,
    redis_answers,
)
from tools.backing.postgres import throwaway_postgres
from tools.backing.redis import throwaway_redis

__all__ = ["backing_services"]

_log = logging.getLogger(__name__)
_MODES = ("auto", "throwaway")


@contextlib.contextmanager
def backing_services(env: Mapping[str, str]) -> Iterator[dict[str, str]]:
    """Yields {POSTGRES_VAR: url, REDIS_VAR: url}; servers it started stop when it ends."""
    mode = env.get(MODE_VAR, "auto") or "auto"
    if mode not in _MODES:
        raise ValueError(f"{MODE_VAR} must be one of {', '.join(_MODES)}, not {mode!r}")
    forced = mode == "throwaway"
    with contextlib.ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="agentopia-backing-"))
        # Traversable by the unprivileged user PostgreSQL runs as under root; it holds
        # no secret (trust auth on loopback, throw-away data).
        workdir.chmod(0o711)
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        postgres = env.get(POSTGRES_VAR) or DEFAULT_POSTGRES
        if forced or not postgres_answers(postgres):
            _log.warning("starting a throw-away PostgreSQL (%s)", _why(forced))
            postgres = stack.enter_context(throwaway_postgres(_sub(workdir, "postgres")))
        redis_url = env.get(REDIS_VAR) or DEFAULT_REDIS
        if forced or not redis_answers(redis_url):
            _log.warning("starting a throw-away Redis (%s)", _why(forced))
            redis_url = stack.enter_context(throwaway_redis(_sub(workdir, "redis")))
        yield {POSTGRES_VAR: postgres, REDIS_VAR: redis_url}


def _sub(workdir: Path, name: str) -> Path:
    path = workdir / name
    path.mkdir()
    return path


def _why(forced: bool) -> str:
    return f"{MODE_VAR}=throwaway" if forced else "none answers at the configured address"
