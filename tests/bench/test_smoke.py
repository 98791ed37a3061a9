"""`make bench` runs: a tiny pass of the harness over both topologies and the plain
Envoy peer. It proves the harness and the JSON it writes, never a timing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.harness import CONCURRENCY, WORKLOADS

pytestmark = pytest.mark.e2e

_SUMMARY_ROWS = (
    "added p50, non-stream, c=1 / 10 / 50 (ms)",
    "CPU per 20-chunk stream, c=50 (ms)",
    "most streams/s (c=50)",
    "peak resident memory, all processes (MiB)",
)


def test_the_harness_measures_every_cell_of_every_target(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    document = json.loads(out.read_text())
    names = [target["name"] for target in document["targets"]]
    # Other peers (LiteLLM, Portkey) join only where they are installed.
    assert names[0] == "plain envoy" and names[-2:] == ["split", "colocated"]
    for target in document["targets"]:
        cells = target["cells"]
        assert {(c["workload"], c["concurrency"]) for c in cells} == {
            (w.name, c) for w in WORKLOADS for c in (1, 2)
        }
        for cell in cells:
            assert cell["target"]["completed"] > 0 and cell["target"]["errors"] == 0, cell
            assert cell["direct"]["completed"] > 0 and cell["direct"]["errors"] == 0, cell
            assert cell["cpu_ms_per_request"] >= 0
        assert target["peak_rss_mib_total"] > 0
        assert all(mib > 0 for mib in target["peak_rss_mib"].values())
    gateways = [t for t in document["targets"] if t["name"] != "plain envoy"]
    assert all(
        {"router", "keyvault", "metrics", "envoy"} <= set(t["peak_rss_mib"]) for t in gateways
    )
    for row in _SUMMARY_ROWS:
        assert row in result.stdout
    assert set(CONCURRENCY) == {1, 10, 50}  # the full run's concurrency, named in the table
