"""Every service's `python -m` entry point turns a configuration error into one
line on stderr and exit status 2 — no traceback, whatever service it is."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from metrics.storage import db

ROOT = Path(__file__).resolve().parents[1]

# (service name, module, a variable the service reads as a number at start-up)
SERVICES = [
    ("router", "services.router", "AGENTOPIA_MAX_BODY_BYTES"),
    ("provider", "services.provider", "AGENTOPIA_UPSTREAM_DNS_TTL_S"),
    ("keyvault", "keyvault", "AGENTOPIA_KEYVAULT_POLL_INTERVAL_MS"),
    ("metrics", "metrics", "AGENTOPIA_PROMETHEUS_PORT"),
]


def start(module: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return start_command(module, None, tmp_path, **env)


def start_command(
    module: str, command: str | None, tmp_path: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    child_env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AGENTOPIA_", "OTEL_"))
    }
    # Nothing may bind a fixed port should a service get past its configuration.
    child_env |= {
        "AGENTOPIA_DATA_DIR": str(tmp_path / "data"),
        "AGENTOPIA_PROMETHEUS_PORT": "0",
        **{f"AGENTOPIA_{name.upper()}_LISTEN": "127.0.0.1:0" for name, _, _ in SERVICES},
        **env,
    }
    # The timeout only keeps a service that wrongly starts serving from hanging the suite.
    return subprocess.run(
        [sys.executable, "-m", module, *([command] if command else [])],
        cwd=ROOT,
        env=child_env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def assert_one_line(result: subprocess.CompletedProcess[str], name: str, variable: str) -> None:
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"{name}: configuration error: ")
    assert variable in lines[0]


@pytest.mark.parametrize(("name", "module", "variable"), SERVICES, ids=[s[0] for s in SERVICES])
def test_a_malformed_number_is_one_line_and_exit_2(
    tmp_path: Path, name: str, module: str, variable: str
) -> None:
    result = start(module, tmp_path, **{variable: "ninety"})
    assert_one_line(result, name, variable)


def test_an_error_found_while_composing_is_one_line_too(tmp_path: Path) -> None:
    # A database behind the code's schema, with migrations off, is found in `compose`.
    result = start("metrics", tmp_path, AGENTOPIA_METRICS_MIGRATE="off")
    assert_one_line(result, "metrics", "AGENTOPIA_METRICS_MIGRATE")


def test_an_unknown_command_is_a_usage_line_and_exit_2(tmp_path: Path) -> None:
    result = start_command("metrics", "unmigrate", tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["metrics: usage: python -m <metrics> [migrate]"]


def test_metrics_migrate_brings_the_schema_to_head_and_exits(tmp_path: Path) -> None:
    result = start_command("metrics", "migrate", tmp_path)
    assert result.returncode == 0, result.stderr
    engine = db.create_engine(f"sqlite:///{tmp_path / 'data'}/metrics.db")
    try:
        assert db.current_revision(engine) == db.head_revision()
    finally:
        engine.dispose()
