"""The console's component tests (vitest, console/src/**/*.test.ts): the pieces
with logic — SSE parsing, live-rate math, exact cost sums, the routing diff, the
route-header and error parsers — run under pytest so `make test` runs them."""

from __future__ import annotations

import subprocess

from tests.console.browser import CONSOLE, node_binary


def test_vitest_suite_passes() -> None:
    vitest = CONSOLE / "node_modules" / "vitest" / "vitest.mjs"
    assert vitest.is_file(), "console dependencies missing: run `make deps`"
    done = subprocess.run(
        [node_binary(), str(vitest), "run", "--reporter=dot"],
        cwd=CONSOLE,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
