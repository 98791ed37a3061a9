"""CONTRIBUTING.md's "Adding a provider", walked with its throwaway `acme` vendor.

The section's code blocks are the steps: each fenced block's info string says what to
do with it (`new:<path>` writes a file, `append:<path>` appends to one,
`before:<path>:<line start>` / `after:<path>:<line start>` insert next to the first
line that starts so). This test applies them to a copy of the tree (the tree itself is
never edited), checks that they touched nothing but the vendor's folder, the registry,
the model and price data and the vendor's fixtures, that the router's registry and the
price table accept the vendor's entries, and then runs, in the copy, the suites that
derive from the registry: golden fixtures, conformance against the openai_compat
emulator, registry coverage and the provider-name check.
"""

from __future__ import annotations

import filecmp
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECTION = re.compile(r"^## Adding a provider\n(.*?)^## ", re.S | re.M)
BLOCK = re.compile(r"^ *```\w+ (\S+?:[^\n]*)\n(.*?)^ *```", re.S | re.M)
COPIED = ("services", "keyvault", "metrics", "gateway", "tests", "pyproject.toml")
ALLOWED = (
    "services/provider/adapters/acme/",
    "services/provider/registry.py",
    "services/router/routing/models.toml",
    "metrics/client/pricing/prices.toml",
    "tests/fixtures/providers/acme/",
)
SUITES = (
    "tests/provider/test_openai_compat_fixtures.py",
    "tests/provider/conformance",
    "tests/provider/test_registry_coverage.py",
    "tests/test_provider_names.py",
)
SAFETY_S = 600  # hang guard for the copy's test run, never an assertion


@dataclass(frozen=True)
class Step:
    action: str
    path: str
    anchor: str
    text: str


def steps() -> list[Step]:
    """The section's blocks, dedented, in order."""
    found = SECTION.search((ROOT / "CONTRIBUTING.md").read_text())
    assert found, "CONTRIBUTING.md has no '## Adding a provider' section"
    parsed = []
    for target, body in BLOCK.findall(found.group(1)):
        action, _, rest = target.partition(":")
        path, _, anchor = rest.partition(":")
        indent = min(len(line) - len(line.lstrip()) for line in body.splitlines() if line.strip())
        text = "".join(line[indent:] + "\n" for line in body.splitlines())
        parsed.append(Step(action, path, anchor, text))
    return parsed


def _apply(step: Step, tree: Path) -> None:
    target = tree / step.path
    if step.action == "new":
        assert not target.exists(), f"{step.path} exists already"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(step.text)
        return
    lines = target.read_text().splitlines(keepends=True)
    if step.action == "append":
        target.write_text("".join(lines) + "\n" + step.text)
        return
    at = next((i for i, line in enumerate(lines) if line.startswith(step.anchor)), None)
    assert at is not None, f"{step.path}: no line starts with {step.anchor!r}"
    at += 1 if step.action == "after" else 0
    assert step.action in {"before", "after"}, step.action
    target.write_text("".join([*lines[:at], step.text, *lines[at:]]))


def _copy(tree: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tree / name, ignore=ignore)
        else:
            shutil.copy2(source, tree / name)


def _changed(tree: Path) -> list[str]:
    """Paths (relative) that differ from the original tree or are new."""
    changed = []
    for name in COPIED:
        copy = tree / name
        files = [copy] if copy.is_file() else [p for p in copy.rglob("*") if p.is_file()]
        for path in files:
            relative = path.relative_to(tree).as_posix()
            if "__pycache__" in relative:
                continue
            original = ROOT / relative
            if not original.exists() or not filecmp.cmp(original, path, shallow=False):
                changed.append(relative)
    return sorted(changed)


def _python(tree: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # The copy first on the path, so that its packages shadow the original tree's.
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, *args],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=SAFETY_S,
        check=False,
    )


CHECK_DATA = """
from metrics.client.pricing import default_table
from services.provider.registry import find
from services.router.routing.claims import check_claims
from services.router.routing.loader import load_default
from tests.provider.registered import under_test

(acme,) = (p for p in under_test() if p.name == "acme")
registry = load_default()
model = registry.models["acme-large"]
assert model.pricing is not None, "acme-large has no price"
check_claims(registry, {"acme": acme.capabilities})
assert find("acme") is acme.spec
print("ok")
"""


@pytest.fixture(scope="module")
def walked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("tree")
    _copy(tree)
    for step in steps():
        _apply(step, tree)
    return tree


def test_the_section_has_every_step() -> None:
    paths = {step.path for step in steps()}
    assert {"services/provider/registry.py", "services/router/routing/models.toml"} <= paths
    assert {"metrics/client/pricing/prices.toml"} <= paths
    assert any(path.startswith("services/provider/adapters/acme/") for path in paths)
    assert any(path.startswith("tests/fixtures/providers/acme/") for path in paths)


def test_the_steps_touch_only_the_vendors_own_places(walked: Path) -> None:
    changed = _changed(walked)
    assert changed, "the steps changed nothing"
    stray = [path for path in changed if not path.startswith(ALLOWED)]
    assert not stray, f"adding a vendor touched {stray}"


def test_its_models_and_prices_load_and_its_claims_hold(walked: Path) -> None:
    done = _python(walked, "-c", CHECK_DATA)
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.strip() == "ok"


def test_the_derived_suites_take_it_in(walked: Path) -> None:
    done = _python(walked, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SUITES)
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
    collected = _python(
        walked, "-m", "pytest", "-q", "--collect-only", "-p", "no:cacheprovider", *SUITES
    )
    assert "acme" in collected.stdout  # the vendor's own cases ran, not only the others'
