"""The API docs site built once per session from the descriptor set `make protos` wrote."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest

from gateway.settings import REPO_ROOT
from tools.openapi import build_document, write_site

DESCRIPTOR = REPO_ROOT / "gen" / "agentopia.pb"


@pytest.fixture(scope="session")
def document() -> dict[str, Any]:
    return build_document(DESCRIPTOR)


@pytest.fixture(scope="session")
def site(document: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    folder = tmp_path_factory.mktemp("docs-site")
    write_site(document, folder)
    return folder
