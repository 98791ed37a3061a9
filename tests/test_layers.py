"""The import-linter contracts in pyproject.toml hold on the real tree, and each
one breaks, by name, when a module takes a forbidden import.

The wrong imports are made in a copy of the tree (Python files only) in a
temporary folder; the copy is put first on the path so import-linter analyses it
instead of the checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("services", "keyvault", "metrics", "gateway", "tools", "tests", "bench")


def contract_names() -> dict[str, str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {c["id"]: c["name"] for c in config["tool"]["importlinter"]["contracts"]}


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), str(ROOT / "gen")])}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(tree / "pyproject.toml")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def _python_only(folder: str, names: list[str]) -> list[str]:
    return [
        name
        for name in names
        if name == "__pycache__" or not (name.endswith(".py") or Path(folder, name).is_dir())
    ]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("layers")
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tree / package, ignore=_python_only)
    return tree


@pytest.fixture
def tree(pristine: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "tree"
    shutil.copytree(pristine, copy)
    return copy


def test_the_real_tree_keeps_every_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(contract_names())} kept, 0 broken." in result.stdout


def test_the_copy_keeps_every_contract(pristine: Path) -> None:
    # The control for the cases below: copying alone breaks nothing.
    result = lint_imports(pristine)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "wrong_import", "broken"),
    [
        ("services/kernel/errors.py", "import services.router.config", {"layers", "kernel"}),
        ("services/kernel/config.py", "import tests.support.mesh", {"kernel", "tooling"}),
        ("keyvault/client/__init__.py", "import keyvault.config", {"clients"}),
        ("services/router/server.py", "import keyvault.config", {"services"}),
        ("services/router/server.py", "import services.colocated.topology", {"layers"}),
        ("metrics/servicer.py", "import services.provider.config", {"services"}),
        ("gateway/routes.py", "import metrics.config", {"edge"}),
        ("metrics/server.py", "import tests.support.edge", {"tooling"}),
    ],
)
def test_a_wrong_import_breaks_the_contract_that_forbids_it(
    tree: Path, module: str, wrong_import: str, broken: set[str]
) -> None:
    path = tree / module
    path.write_text(path.read_text() + f"\n{wrong_import}  # the wrong import\n")
    result = lint_imports(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    names = contract_names()
    for contract in broken:  # (an import into the kernel breaks others too, indirectly)
        assert f"{names[contract]} BROKEN" in result.stdout
    importer = module.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    assert importer in result.stdout  # the report names the offending module
