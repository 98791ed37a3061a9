"""`python -m tests.gateway.fake_mesh`: tools.localrun.run's `run()` over the real
edge (in front of the router the test serves, AGENTOPIA_ROUTER_TARGET) and a
health-only program; with BREAK=1 also a program that fails to start."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tools.localrun.edge import edge_program
from tools.localrun.run import grpc_probe, mesh_env, run
from tools.localrun.supervisor import Probe, Program


def port_file_probe(port_file: Path) -> Probe:
    """Ready once the program has published its port and answers health checks there."""

    def check() -> bool:
        return port_file.exists() and grpc_probe(f"127.0.0.1:{port_file.read_text()}")()

    return check


def main() -> int:
    env, note = mesh_env(os.environ)
    port_file = Path(env["AGENTOPIA_DATA_DIR"]) / "helper.port"
    programs = [
        Program(
            "helper",
            (sys.executable, "-m", "tests.gateway.fake_service", "127.0.0.1:0", str(port_file)),
            ready=port_file_probe(port_file),
        ),
        edge_program(env, priority=50),
    ]
    if os.environ.get("BREAK"):
        failing = "print('no database'); raise SystemExit(1)"
        programs.append(Program("broken", (sys.executable, "-c", failing)))
    return run(env, programs, start_limit_s=60, key_note=note)


if __name__ == "__main__":
    sys.exit(main())
