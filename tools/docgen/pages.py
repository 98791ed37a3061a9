"""The generated pages of docs/ and the function that renders each."""

from __future__ import annotations

import pathlib
from collections.abc import Callable

from tools.docgen.catalogue import entries, render_markdown

__all__ = ["DOCS", "PAGES"]

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs"


def _errors() -> str:
    return render_markdown(entries())


def _configuration() -> str:
    from tools.docgen.configuration import render_configuration  # noqa: PLC0415

    return render_configuration()


def _metrics() -> str:
    from tools.docgen.metrics_catalogue import render_metrics  # noqa: PLC0415

    return render_metrics()


PAGES: dict[pathlib.Path, Callable[[], str]] = {
    DOCS / "errors.md": _errors,
    DOCS / "configuration.md": _configuration,
    DOCS / "metrics.md": _metrics,
}
