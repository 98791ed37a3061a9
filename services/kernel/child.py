"""Running one of the mesh's own commands in a short-lived child process.

Used where a long-running service needs a job whose imports it should not keep
resident (a schema migration pulls in Alembic): the child does the job, exits,
and takes its memory with it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Mapping

__all__ = ["run_in_child"]


async def run_in_child(module: str, command: str, env: Mapping[str, str]) -> int:
    """Run `python -m <module> <command>` with `env` over this process's environment
    and return its exit status. Its log lines go where this process's go; if the
    caller is cancelled, the child is killed rather than left behind."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, command, env={**os.environ, **env}
    )
    try:
        return await process.wait()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        raise
