"""`python -m tests.gateway.fake_mesh`: tools.localrun.run's `run()` over a fake router
(health only) and the real edge; with BREAK=1 also a program that fails to start."""

from __future__ import annotations

import os
import sys

from tools.localrun.run import grpc_probe, http_probe, mesh_env, run
from tools.localrun.supervisor import Program


def main() -> int:
    env, note = mesh_env(os.environ)
    router = env["AGENTOPIA_ROUTER_LISTEN"]
    edge = env["AGENTOPIA_EDGE_LISTEN"]
    programs = [
        Program(
            "router",
            (sys.executable, "-m", "tests.gateway.fake_service", router),
            ready=grpc_probe(router),
        ),
        Program(
            "edge",
            (sys.executable, "-m", "gateway"),
            ready=http_probe(f"http://{edge}/healthz"),
            priority=50,
        ),
    ]
    if os.environ.get("BREAK"):
        failing = "print('no database'); raise SystemExit(1)"
        programs.append(Program("broken", (sys.executable, "-c", failing)))
    return run(env, programs, start_limit_s=60, key_note=note)


if __name__ == "__main__":
    sys.exit(main())
