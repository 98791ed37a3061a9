"""The conformance matrix is complete and its document current: every cell of every
surface x backend x feature says what it does and names a test that exists (the
end-to-end tests run it once per backend); docs/surfaces.md shows exactly the table
matrix.py renders."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.e2e.surfaces.matrix import (
    BACKENDS,
    CELLS,
    FEATURES,
    NOT_OFFERED,
    ROOT,
    SURFACES,
    TABLE_PATH,
    current_document,
)


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    }


def test_every_cell_is_there_once() -> None:
    keys = [(c.surface, c.backend, c.feature) for c in CELLS]
    assert len(keys) == len(set(keys))
    assert set(keys) == {(s, b, f) for s in SURFACES for b in BACKENDS for f in FEATURES}


def test_every_offered_cell_names_a_test_that_exists() -> None:
    missing = []
    for cell in CELLS:
        if cell.does == NOT_OFFERED:
            continue
        path, _, name = cell.test.partition("::")
        if name not in _tests_in(ROOT / path):
            missing.append((cell.surface, cell.backend, cell.feature, cell.test))
    assert missing == []


def test_the_document_shows_the_generated_table() -> None:
    assert TABLE_PATH.read_text(encoding="utf-8") == current_document(), (
        "docs/surfaces.md is stale: regenerate its table with "
        "`python -m tests.e2e.surfaces.matrix` (see the module docstring)"
    )
