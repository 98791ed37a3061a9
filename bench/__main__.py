"""`make bench`: what the gateway adds over calling the upstream directly, per topology.

Set-up: the benchmark upstream (bench/upstream.py, OpenAI wire format, 20-chunk
streams 1 ms apart, optional 50 ms before the first byte) and the load driver on
one core; the whole mesh (Envoy, router, provider, key vault, metrics — or the
router hosting the provider in the `colocated` topology) pinned to the other.
Requests go through the real edge with a client key that has limits, so
authentication, routing, admission and usage accounting are all on.

For each topology, and for each peer installed (a plain Envoy hop always;
LiteLLM or Portkey when present), every cell — non-stream and 20-chunk stream,
0 ms and 50 ms upstream, concurrency 1, 10 and 50 — alternates slices against the
upstream itself and against the target, so ratios compare the same period.
Prints a summary table and every cell, and writes JSON (`--json`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import platform
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

from bench.client_key import create_limited_key
from bench.cpu import pin
from bench.harness import Plan, TargetReport, Workload, measure
from bench.peers import available_peers
from bench.report import cells_table, summary_table
from tests.support.edge import run_edge
from tests.support.mesh import run_mesh

_MESH_CORE = {0}
_CLIENT_CORE = {1 if (os.cpu_count() or 1) > 1 else 0}
TOPOLOGIES = ("split", "colocated")


@contextlib.asynccontextmanager
async def _upstream(workdir: Path) -> AsyncIterator[int]:
    port_file = workdir / "upstream.port"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.upstream", str(port_file)
    )
    try:
        while not port_file.exists():  # noqa: ASYNC110 (another process writes it)
            await asyncio.sleep(0.05)
        pin([process.pid], _CLIENT_CORE)
        yield int(port_file.read_text())
    finally:
        process.terminate()
        await process.wait()


async def _gateway(topology: str, workdir: Path, upstream_port: int, plan: Plan) -> TargetReport:
    env = {
        "OPENAI_API_KEY": "sk-bench-not-a-real-key",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{upstream_port}/v1",
        "AGENTOPIA_LOG_LEVEL": "WARNING",
        "AGENTOPIA_TOPOLOGY": topology,
    }
    async with (
        run_mesh(workdir / topology, env) as mesh,
        run_edge(
            router_port=mesh.services["router"].port,
            keyvault_port=mesh.services["keyvault"].port,
            metrics_port=mesh.services["metrics"].port,
        ) as edge,
    ):
        processes = {name: service.process.pid for name, service in mesh.services.items()}
        processes["envoy"] = edge.pid
        pin(list(processes.values()), _MESH_CORE)
        key = await create_limited_key(edge.url, mesh.admin_key)
        return await measure(
            topology,
            url=f"{edge.url}/v1/chat/completions",
            direct_url=f"http://127.0.0.1:{upstream_port}/v1/chat/completions",
            headers={"Authorization": f"Bearer {key}"},
            processes=processes,
            plan=plan,
        )


async def _peers(upstream_port: int, plan: Plan) -> list[TargetReport]:
    reports = []
    for peer_context in available_peers(upstream_port):
        async with peer_context as peer:
            pin(peer.pids, _MESH_CORE)
            reports.append(
                await measure(
                    peer.name,
                    url=peer.url,
                    direct_url=f"http://127.0.0.1:{upstream_port}/v1/chat/completions",
                    headers=peer.headers,
                    processes={f"{peer.name} {index}": pid for index, pid in enumerate(peer.pids)},
                    plan=plan,
                    model=peer.model,
                )
            )
    return reports


async def bench(plan: Plan, topologies: Sequence[str], *, peers: bool) -> list[TargetReport]:
    pin([os.getpid()], _CLIENT_CORE)
    with tempfile.TemporaryDirectory(prefix="agentopia-bench-") as tmp:
        workdir = Path(tmp)
        async with _upstream(workdir) as upstream_port:
            reports = [await _peers(upstream_port, plan)] if peers else [[]]
            for topology in topologies:
                reports.append([await _gateway(topology, workdir, upstream_port, plan)])
    return [report for group in reports for report in group]


def _document(reports: list[TargetReport], plan: Plan) -> dict[str, Any]:
    return {
        "generated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "mesh_core": sorted(_MESH_CORE),
            "client_core": sorted(_CLIENT_CORE),
        },
        "plan": {
            "requests": plan.requests,
            "stream_requests": plan.stream_requests,
            "slow_requests": plan.slow_requests,
            "rounds": plan.rounds,
            "slice_seconds": plan.slice_seconds,
            "concurrency": list(plan.concurrency),
        },
        "targets": [report.as_json() for report in reports],
    }


def _smoke_plan() -> Plan:
    """A few requests per cell: proves the harness and its JSON, measures nothing."""
    return replace(
        Plan(),
        requests=6,
        stream_requests=4,
        slow_requests=2,
        rounds=1,
        slice_seconds=5.0,
        concurrency=(1, 2),
        idle_seconds=0.2,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--topology", choices=[*TOPOLOGIES, "both"], default="both")
    parser.add_argument("--json", type=Path, default=Path("var/bench/latest.json"))
    parser.add_argument("--no-peers", action="store_true", help="skip the peers")
    parser.add_argument("--smoke", action="store_true", help="a tiny run that checks the harness")
    parser.add_argument("--requests", type=int, default=Plan.requests)
    parser.add_argument("--stream-requests", type=int, default=Plan.stream_requests)
    args = parser.parse_args(argv)
    plan = (
        _smoke_plan()
        if args.smoke
        else replace(Plan(), requests=args.requests, stream_requests=args.stream_requests)
    )
    topologies = TOPOLOGIES if args.topology == "both" else (args.topology,)
    reports = asyncio.run(bench(plan, topologies, peers=not args.no_peers))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_bytes(orjson.dumps(_document(reports, plan), option=orjson.OPT_INDENT_2))
    print("Gateway overhead; mesh pinned to one core, driver + upstream on the other")
    print(summary_table(reports))
    for report in reports:
        print()
        print(cells_table(report))
    print(f"\nJSON: {args.json}")


if __name__ == "__main__":
    main()

__all__ = ["TOPOLOGIES", "Workload", "bench", "main"]
