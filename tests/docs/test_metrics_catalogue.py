"""docs/metrics.md lists every series the instruments declare."""

from __future__ import annotations

from tools.docgen.metrics_catalogue import render_metrics, series
from tools.docgen.pages import DOCS


def test_the_scanner_reads_names_types_and_labels() -> None:
    found = {s.name: s for s in series()}
    usage = found["gen_ai_client_token_usage"]
    assert usage.kind == "histogram"
    assert "gen_ai_token_type" in usage.labels  # a label constant from services.kernel.semconv
    assert found["agentopia_provider_key_health"].labels == ("gen_ai_provider_name", "key_id")


def test_docs_metrics_md_is_up_to_date() -> None:
    assert (DOCS / "metrics.md").read_text() == render_metrics(), (
        "docs/metrics.md is stale: run python -m tools.docgen"
    )
