"""Every error code the source can raise is in the catalogue, with the status the
source gives it, and docs/errors.md is the catalogue as it is now."""

from __future__ import annotations

import pathlib

from tools.docgen.catalogue import entries, load_meanings, render_markdown
from tools.docgen.error_codes import scan
from tools.docgen.pages import DOCS

_RETRY_WORDS = {"yes", "no", "operator"}


def test_every_code_in_the_source_is_in_the_catalogue() -> None:
    meanings = load_meanings()
    missing = [f"{c.code} ({c.where})" for c in scan() if c.code not in meanings]
    assert not missing, (
        "error codes raised in the source but missing from tools/docgen/errors.toml "
        f"(add a meaning and `retry`, then run python -m tools.docgen): {missing}"
    )


def test_every_catalogue_entry_is_still_raised_somewhere() -> None:
    raised = {c.code for c in scan()}
    stale = sorted(set(load_meanings()) - raised)
    assert not stale, f"tools/docgen/errors.toml describes codes nothing raises: {stale}"


def test_entries_have_a_status_a_meaning_and_retry_advice() -> None:
    meanings = load_meanings()
    for code, described in meanings.items():
        assert described.get("meaning"), code
        assert described.get("retry") in _RETRY_WORDS, code
    for found in scan():
        described = meanings.get(found.code, {})
        assert found.status or described.get("grpc"), f"{found.code}: no gRPC status"
        if found.retryable is True:
            assert described.get("retry") == "yes", f"{found.code} is retryable in the source"


def test_the_scanner_sees_codes_built_inside_constructors() -> None:
    codes = {c.code: c for c in scan()}
    # keyvault/errors.not_found builds f"{kind}_not_found" from its callers' literals.
    assert codes["client_key_not_found"].status == "NOT_FOUND"
    # keyvault/client/limits/types.py picks the code from a branch.
    assert codes["budget_exceeded"].status == "RESOURCE_EXHAUSTED"
    # The edge's Lua fallback table.
    assert codes["headers_too_large"].where.startswith("gateway/edge_filter.lua")


def test_docs_errors_md_is_up_to_date() -> None:
    page: pathlib.Path = DOCS / "errors.md"
    assert page.read_text() == render_markdown(entries()), (
        "docs/errors.md is stale: run python -m tools.docgen"
    )
