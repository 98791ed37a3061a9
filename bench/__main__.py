"""`make bench`: the latency and CPU the gateway adds over calling the upstream directly.

Set-up: a fixed-answer OpenAI-style upstream (bench/upstream.py) in its own
process; the whole mesh (router, provider, key vault, metrics, Envoy) as separate
processes. The gateway's processes are pinned to core 0, the load generator and
the upstream to core 1, so "CPU per request" is the gateway's alone. The same
closed-loop load runs against the upstream directly and through the edge, at
concurrency 1, 10 and 50; the table shows p50/p99, the added latency, the ratio
and the gateway's CPU milliseconds per request across all its processes.

Budget this design is held to (issue 2): ≤ 1.2 ms added p50 at concurrency 1 and
≤ 0.7 ms CPU per request across all processes, the mesh pinned to one core.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

import orjson

from bench.cpu import cpu_seconds, pin
from bench.load import LoadResult, run_load
from tests.support.edge import run_edge
from tests.support.mesh import run_mesh

_BODY = orjson.dumps(
    {"model": "openai/bench-model", "messages": [{"role": "user", "content": "ping"}]}
)
_HEADER = " | ".join(
    [
        "|   c",
        "direct p50",
        "p99",
        "gateway p50",
        "p99",
        "added p50",
        "ratio",
        "CPU ms/req",
        "req/s",
        "errors |",
    ]
)
_GATEWAY_CORE = {0}
_CLIENT_CORE = {1 if (os.cpu_count() or 1) > 1 else 0}


async def _start_upstream(workdir: Path) -> tuple[asyncio.subprocess.Process, int]:
    port_file = workdir / "upstream.port"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.upstream", str(port_file)
    )
    while not port_file.exists():  # noqa: ASYNC110 (another process writes it)
        await asyncio.sleep(0.05)
    pin([process.pid], _CLIENT_CORE)
    return process, int(port_file.read_text())


def _row(direct: LoadResult, gateway: LoadResult, cpu_ms: float) -> str:
    added = gateway.p50 - direct.p50
    return (
        f"| {gateway.concurrency:>3} | {direct.p50:7.3f} | {direct.p99:7.3f} | {gateway.p50:7.3f} "
        f"| {gateway.p99:7.3f} | {added:7.3f} | {gateway.p50 / direct.p50:5.2f}x "
        f"| {cpu_ms:6.3f} | {gateway.throughput:7.0f} | {gateway.errors} |"
    )


async def bench(requests: int, max_seconds: float) -> None:
    pin([os.getpid()], _CLIENT_CORE)
    with tempfile.TemporaryDirectory(prefix="agentopia-bench-") as tmp:
        workdir = Path(tmp)
        upstream, port = await _start_upstream(workdir)
        upstream_url = f"http://127.0.0.1:{port}/v1"
        env = {
            "OPENAI_API_KEY": "sk-bench-not-a-real-key",
            "OPENAI_BASE_URL": upstream_url,
            "AGENTOPIA_LOG_LEVEL": "WARNING",
        }
        try:
            async with (
                run_mesh(workdir / "mesh", env) as mesh,
                run_edge(
                    router_port=mesh.services["router"].port,
                    keyvault_port=mesh.services["keyvault"].port,
                    metrics_port=mesh.services["metrics"].port,
                ) as edge,
            ):
                named = {name: s.process.pid for name, s in mesh.services.items()}
                named["envoy"] = edge.pid
                pids = list(named.values())
                breakdown: list[tuple[int, dict[str, float]]] = []
                pin(pids, _GATEWAY_CORE)
                headers = {
                    "Content-Type": "application/json",
                    "Authorization": f"Bearer {mesh.admin_key}",
                }
                rows = []
                for concurrency in (1, 10, 50):
                    direct = await run_load(
                        f"{upstream_url}/chat/completions",
                        _BODY,
                        headers,
                        concurrency=concurrency,
                        requests=requests,
                        max_seconds=max_seconds,
                    )
                    before = cpu_seconds(pids)
                    each_before = {name: cpu_seconds([pid]) for name, pid in named.items()}
                    gateway = await run_load(
                        f"{edge.url}/v1/chat/completions",
                        _BODY,
                        headers,
                        concurrency=concurrency,
                        requests=requests,
                        max_seconds=max_seconds,
                    )
                    spent = cpu_seconds(pids) - before
                    served = len(gateway.latencies_ms) + gateway.errors
                    breakdown.append(
                        (
                            concurrency,
                            {
                                name: (cpu_seconds([pid]) - each_before[name])
                                * 1000.0
                                / max(1, served)
                                for name, pid in named.items()
                            },
                        )
                    )
                    rows.append(_row(direct, gateway, spent * 1000.0 / max(1, served)))
        finally:
            upstream.terminate()
            await upstream.wait()
    print("Gateway overhead (ms); mesh pinned to one core, client + upstream on another")
    print(_HEADER)
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(row)
    print("budget: added p50 at c=1 <= 1.2 ms; CPU <= 0.7 ms/request")
    print("CPU ms per request by process:")
    for concurrency, parts in breakdown:
        print(f"  c={concurrency:<3} " + "  ".join(f"{k}={v:.3f}" for k, v in parts.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--max-seconds", type=float, default=30.0)
    args = parser.parse_args()
    asyncio.run(bench(args.requests, args.max_seconds))


if __name__ == "__main__":
    main()
