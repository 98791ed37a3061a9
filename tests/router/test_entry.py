"""`python -m services.router` with a configuration error prints one line and exits 2,
whether the error is in the environment or in a file the router reads at start-up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROCESS_BOUND_S = 60.0  # a bound on waiting for the process, not an assertion on timing


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.router"],
        env={**os.environ, "AGENTOPIA_PROMETHEUS_PORT": "0", **env},
        capture_output=True,
        text=True,
        timeout=PROCESS_BOUND_S,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"AGENTOPIA_MAX_BODY_BYTES": "lots"}, "AGENTOPIA_MAX_BODY_BYTES"),
        ({"AGENTOPIA_DEMO": "maybe"}, "AGENTOPIA_DEMO"),
        ({"AGENTOPIA_MODELS_FILE": "/nonexistent/models.toml"}, "AGENTOPIA_MODELS_FILE"),
        ({"AGENTOPIA_PRICES_FILE": "/nonexistent/prices.toml"}, "AGENTOPIA_PRICES_FILE"),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_2(env: dict[str, str], named: str) -> None:
    done = _run(env)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert done.stderr.startswith("router: configuration error: ")
    assert named in done.stderr


def test_a_malformed_registry_names_the_field(tmp_path: Path) -> None:
    models = tmp_path / "models.toml"
    models.write_text(
        'schema_version = 1\nversion = 1\n[providers.p]\n[[models]]\nid = "m"\nprovider = "p"\n'
        "context_window = 10\nmax_output_tokens = 10\nwieght = 3\n",
        encoding="utf-8",
    )
    done = _run({"AGENTOPIA_MODELS_FILE": str(models)})
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"router: configuration error: AGENTOPIA_MODELS_FILE={models} is invalid: "
        "models[0].wieght: unknown field"
    ]
