"""`python -m keyvault`: a configuration error — read from the environment or met while
composing (a schema that needs migrating, an unreadable key-encryption key) — is one
line on stderr and exit status 2, never a traceback."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys


def _run(tmp_path: pathlib.Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        **os.environ,
        "AGENTOPIA_DATA_DIR": str(tmp_path),
        "AGENTOPIA_KEYVAULT_LISTEN": "127.0.0.1:0",
        "AGENTOPIA_PROMETHEUS_PORT": "0",
    }
    return subprocess.run(
        [sys.executable, "-m", "keyvault", *args],
        check=False,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    """The one line besides the service's JSON log records (which may precede it)."""
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if not line.startswith("{")]
    assert len(lines) == 1, done.stderr[-2000:]
    assert lines[0].startswith("keyvault: configuration error: ")
    return lines[0]


def test_a_bad_variable_is_one_line(tmp_path: pathlib.Path) -> None:
    line = _one_line(_run(tmp_path, AGENTOPIA_KEYVAULT_MIGRATE="sometimes"))
    assert "AGENTOPIA_KEYVAULT_MIGRATE must be auto or off" in line


def test_the_migrate_command_reads_the_same_configuration(tmp_path: pathlib.Path) -> None:
    line = _one_line(_run(tmp_path, "migrate", AGENTOPIA_ADMIN_KEY="short"))
    assert "AGENTOPIA_ADMIN_KEY must be at least 32 random characters long" in line


def test_a_schema_that_needs_migrating_is_one_line(tmp_path: pathlib.Path) -> None:
    line = _one_line(
        _run(
            tmp_path,
            AGENTOPIA_KEYVAULT_DATABASE_URL=f"sqlite:///{tmp_path / 'fresh.db'}",
            AGENTOPIA_KEYVAULT_MIGRATE="off",
        )
    )
    assert "run `python -m keyvault migrate`" in line


def test_a_kek_file_readable_by_others_is_one_line(tmp_path: pathlib.Path) -> None:
    kek = tmp_path / "kek.key"
    kek.write_bytes(b"A" * 44 + b"\n")
    kek.chmod(0o644)
    line = _one_line(_run(tmp_path, AGENTOPIA_KEK_FILE=str(kek)))
    assert "readable by others" in line


def test_an_unknown_command_is_a_usage_line(tmp_path: pathlib.Path) -> None:
    done = _run(tmp_path, "serve-twice")
    assert done.returncode == 2
    usage = done.stderr.strip()
    assert usage.startswith("keyvault: usage:") and "migrate" in usage
