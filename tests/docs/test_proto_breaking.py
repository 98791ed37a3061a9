"""`buf breaking` as `make lint` runs it: a compatible change passes, a breaking one fails."""

from __future__ import annotations

import pathlib
import shutil

from tools.gen_protos import PROTOS
from tools.proto_breaking import baseline, compare


def _copy(tmp_path: pathlib.Path, name: str) -> pathlib.Path:
    folder = tmp_path / name
    shutil.copytree(PROTOS, folder)
    return folder


def test_adding_a_field_is_compatible(tmp_path: pathlib.Path) -> None:
    after = _copy(tmp_path, "after")
    model = after / "agentopia" / "v1" / "audit_service.proto"
    text = model.read_text()
    model.write_text(
        text.replace(
            "  string target_id = 3;\n", "  string target_id = 3;\n  string actor_id = 15;\n", 1
        )
    )
    assert compare(PROTOS, after).returncode == 0


def test_removing_a_field_is_breaking(tmp_path: pathlib.Path) -> None:
    after = _copy(tmp_path, "after")
    model = after / "agentopia" / "v1" / "audit_service.proto"
    model.write_text(model.read_text().replace("  string target_id = 3;\n", "", 1))
    result = compare(PROTOS, after)
    assert result.returncode != 0
    assert "target_id" in result.stdout + result.stderr


def test_the_baseline_is_a_git_ref_of_this_checkout() -> None:
    # None only without history to compare with (a single-commit shallow clone).
    assert baseline() in ("main", "HEAD", "HEAD~1", None)
