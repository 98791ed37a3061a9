"""AGENTOPIA_TOPOLOGY, the colocated process's configuration, and `make run` in
either topology (its programs and environment; a bad topology is one line, exit 2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.colocated.config import ColocatedConfig
from services.colocated.topology import topology_from_env
from services.kernel.config import ConfigError
from tools.localrun.banner import banner
from tools.localrun.run import mesh_env, mesh_programs

ROOT = Path(__file__).resolve().parents[2]


def test_the_topology_is_split_unless_colocated_is_asked_for() -> None:
    assert topology_from_env({}) == "split"
    assert topology_from_env({"AGENTOPIA_TOPOLOGY": ""}) == "split"
    assert topology_from_env({"AGENTOPIA_TOPOLOGY": "colocated"}) == "colocated"
    with pytest.raises(ConfigError, match="AGENTOPIA_TOPOLOGY must be split or colocated"):
        topology_from_env({"AGENTOPIA_TOPOLOGY": "together"})


def test_the_colocated_config_is_both_services_read_from_one_environment() -> None:
    config = ColocatedConfig.from_env(
        {
            "AGENTOPIA_ROUTER_LISTEN": "0.0.0.0:50051",
            "AGENTOPIA_LOG_LEVEL": "DEBUG",
            "AGENTOPIA_DEMO": "true",
            "AGENTOPIA_METRICS_TARGET": "metrics:50054",
        }
    )
    assert config.router.listen == "0.0.0.0:50051"
    assert config.log_level == "DEBUG"
    assert config.router.demo and config.provider.demo
    assert "mock" in {spec.name for spec in config.provider.specs}
    assert config.router.metrics_target == config.provider.metrics_target == "metrics:50054"


def _programs(tmp_path: Path, topology: str) -> dict[str, list[str]]:
    env, _ = mesh_env({"AGENTOPIA_DATA_DIR": str(tmp_path), "AGENTOPIA_TOPOLOGY": topology})
    return {program.name: list(program.command) for program in mesh_programs(env)}


def test_make_run_starts_one_colocated_process_instead_of_router_and_provider(
    tmp_path: Path,
) -> None:
    split = _programs(tmp_path, "split")
    colocated = _programs(tmp_path, "colocated")
    assert set(split) == {"keyvault", "metrics", "provider", "router", "edge"}
    assert set(colocated) == {"keyvault", "metrics", "colocated", "edge"}
    assert colocated["colocated"][1:] == ["-m", "services.colocated"]
    assert split["router"][1:] == ["-m", "services.router"]


def test_make_run_points_the_key_vault_at_the_colocated_process(tmp_path: Path) -> None:
    env, _ = mesh_env({"AGENTOPIA_DATA_DIR": str(tmp_path), "AGENTOPIA_TOPOLOGY": "colocated"})
    assert env["AGENTOPIA_PROVIDER_TARGET"] == env["AGENTOPIA_ROUTER_TARGET"] == "127.0.0.1:50051"
    split, _ = mesh_env({"AGENTOPIA_DATA_DIR": str(tmp_path)})
    assert split["AGENTOPIA_TOPOLOGY"] == "split"
    assert split["AGENTOPIA_PROVIDER_TARGET"] == "127.0.0.1:50052"


@pytest.mark.parametrize("topology", ["split", "colocated"])
def test_the_banner_says_which_topology_runs(topology: str) -> None:
    text = banner(
        edge="127.0.0.1:8080",
        key="sk-agp-k",
        key_note="new",
        model="mock/echo",
        logs="var/log",
        topology=topology,
    )
    line = next(line for line in text.splitlines() if "Topology" in line)
    assert line.split()[1] == topology


def test_make_run_with_a_bad_topology_is_one_line_and_exit_2(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AGENTOPIA_")}
    env |= {"AGENTOPIA_DATA_DIR": str(tmp_path), "AGENTOPIA_TOPOLOGY": "both"}
    done = subprocess.run(
        [sys.executable, "-m", "tools.localrun"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout.strip().splitlines() == [
        "make run: configuration error: AGENTOPIA_TOPOLOGY must be split or colocated, got 'both'"
    ]
    assert not (tmp_path / "admin-key").exists()  # nothing was started or written
