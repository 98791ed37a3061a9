"""The pipelines (.github/workflows, cloudbuild.yaml) pass their linters offline and
describe the whole path: checks, images, staging on main, production on a release tag."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.settings import REPO_ROOT

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
VENV_BIN = REPO_ROOT / ".venv" / "bin"
# Every third-party action, pinned by a commit SHA checked against published pins when
# it was added; the tag it stands for is the comment on the line.
PINS = {
    "actions/checkout": ("11bd71901bbe5b1630ceea73d27597364c9af683", "v4.2.2"),
    "actions/setup-python": ("0b93645e9fea7318ecaed2b359559ac225c90a2b", "v5.3.0"),
    "actions/upload-artifact": ("b4b15b8c7c6ac21ea08fcf65892d2ee8f75cf882", "v4.4.3"),
    "google-github-actions/auth": ("6fc4af4b145ae7821d527454aa9bd537d1f2dc5f", "v2.1.7"),
    "sigstore/cosign-installer": ("d58896d6a1865668819e1d91763c7751a165e159", "v3.9.2"),
}
SERVICES = ("router", "provider", "keyvault", "metrics", "edge")
CLOUD_BUILD_BUILTINS = {"PROJECT_ID", "COMMIT_SHA", "SHORT_SHA", "BRANCH_NAME", "TAG_NAME"}


def workflow(name: str) -> dict[Any, Any]:
    data: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return data


def triggers(name: str) -> dict[str, Any]:
    found: dict[str, Any] = workflow(name)[True]  # YAML 1.1 reads the key `on` as True
    return found


def files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yaml"))


def test_actionlint_and_zizmor_find_nothing() -> None:
    paths = [str(p) for p in files()]
    lint = subprocess.run(
        [VENV_BIN / "actionlint", *paths], capture_output=True, text=True, check=False
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    zizmor = subprocess.run(
        [VENV_BIN / "zizmor", "--offline", "--quiet", str(WORKFLOWS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert zizmor.returncode == 0, zizmor.stdout + zizmor.stderr


def test_make_lint_runs_both_linters() -> None:
    lint = (REPO_ROOT / "Makefile").read_text().split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "actionlint .github/workflows" in lint
    assert "zizmor --offline" in lint


@pytest.mark.parametrize("path", files(), ids=lambda p: p.name)
def test_every_action_is_pinned_by_a_verified_sha(path: Path) -> None:
    uses = re.findall(r"^\s*(?:-\s*)?uses:\s*(\S+)(.*)$", path.read_text(), re.MULTILINE)
    assert uses
    for reference, comment in uses:
        if reference.startswith("./"):
            continue  # this repository's own reusable workflow
        action, _, sha = reference.partition("@")
        assert action in PINS, reference
        assert (sha, PINS[action][1]) == PINS[action], reference
        assert f"# {PINS[action][1]}" in comment, reference


@pytest.mark.parametrize("path", files(), ids=lambda p: p.name)
def test_least_privilege_per_job(path: Path) -> None:
    data = workflow(path.name)
    assert data["permissions"] == {}  # nothing by default
    for name, job in data["jobs"].items():
        permissions = job["permissions"]
        assert set(permissions.values()) <= {"read", "write"}, name
        writes = {scope for scope, level in permissions.items() if level == "write"}
        assert writes <= {"id-token"}, name  # OIDC only: no token may write the repository
        steps = job.get("steps", [])
        for step in steps:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, name


def test_ci_runs_every_stage_on_push_and_pull_request() -> None:
    on = triggers("ci.yaml")
    assert {"push", "pull_request", "workflow_call"} <= set(on)
    jobs = workflow("ci.yaml")["jobs"]
    assert set(jobs) == {"lint", "test", "audit", "security", "images"}
    assert set(jobs["images"]["needs"]) == {"lint", "test", "audit", "security"}
    runs = {name: " ".join(s.get("run", "") for s in job["steps"]) for name, job in jobs.items()}
    assert "make lint" in runs["lint"]
    assert "make test" in runs["test"]
    assert "make audit" in runs["audit"]
    assert "make security" in runs["security"]
    for action in ("build", "scan", "sign"):
        assert f"tools/ci/image.sh {action}" in runs["images"]
    assert all(service in runs["images"] for service in SERVICES)
    services = jobs["test"]["services"]
    assert set(services) == {"postgres", "redis"}
    env = jobs["test"]["env"]
    assert env["AGENTOPIA_TEST_POSTGRES_URL"].endswith("127.0.0.1:5432/test")
    assert env["AGENTOPIA_TEST_REDIS_URL"].endswith("127.0.0.1:6379/0")


def test_staging_on_main_and_production_on_tags_behind_approval() -> None:
    assert triggers("deploy-staging.yaml") == {"push": {"branches": ["main"]}}
    staging = workflow("deploy-staging.yaml")["jobs"]
    assert staging["ci"]["uses"] == "./.github/workflows/ci.yaml"
    assert staging["ci"]["with"] == {"publish": True}
    assert staging["deploy"]["needs"] == ["ci"]
    assert staging["deploy"]["environment"]["name"] == "staging"
    assert "tools/ci/deploy.sh staging" in staging["deploy"]["steps"][-1]["run"]
    assert triggers("deploy-production.yaml") == {"push": {"tags": ["v*.*.*"]}}
    production = workflow("deploy-production.yaml")["jobs"]["deploy"]
    # The environment carries the required reviewers; the job waits for them.
    assert production["environment"]["name"] == "production"
    runs = " ".join(step.get("run", "") for step in production["steps"])
    assert "tools/ci/image.sh verify" in runs
    assert "tools/ci/deploy.sh production" in runs
    # Never cancel a rollout half-way.
    for name in ("deploy-staging.yaml", "deploy-production.yaml"):
        assert workflow(name)["concurrency"]["cancel-in-progress"] is False


def test_the_deploy_script_migrates_rolls_back_and_smoke_tests() -> None:
    deploy = (REPO_ROOT / "tools" / "ci" / "deploy.sh").read_text()
    assert "--atomic" in deploy  # a rollout that never gets ready rolls back
    assert "helm rollback" in deploy  # and so does a failed smoke test
    assert "tools/ci/smoke.sh" in deploy
    for name in ("deploy.sh", "smoke.sh", "image.sh"):
        script = REPO_ROOT / "tools" / "ci" / name
        assert subprocess.run(["bash", "-n", str(script)], check=False).returncode == 0, name
    image = (REPO_ROOT / "tools" / "ci" / "image.sh").read_text()
    assert "--push --sbom=true --provenance=mode=max" in image
    assert "cosign sign --yes" in image and "cosign verify" in image


def test_cloud_build_has_the_same_stages() -> None:
    text = (REPO_ROOT / "cloudbuild.yaml").read_text()
    config = yaml.safe_load(text)
    steps = {step["id"]: step for step in config["steps"]}
    assert {"lint", "test", "audit", "security", "images", "scan-and-sign", "deploy"} <= set(steps)
    assert set(steps["images"]["waitFor"]) == {"lint", "test", "audit", "security"}
    for stage in ("lint", "test", "audit", "security"):
        assert f"make {stage}" in " ".join(steps[stage]["args"]), stage
    makefile = (REPO_ROOT / "Makefile").read_text()
    for target in ("lint", "test", "audit", "security", "deps"):
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), target
    # Cloud Build substitutes every $NAME: shell variables must be written $$NAME.
    declared = set(config["substitutions"]) | CLOUD_BUILD_BUILTINS
    names = re.findall(r"(?<!\$)\$\{?([A-Za-z_][A-Za-z0-9_]*)", text)
    assert set(names) <= declared, set(names) - declared


def test_secret_scanning_fails_on_a_new_finding_only(tmp_path: Path) -> None:
    def baseline(name: str, *items: tuple[str, str, int]) -> str:
        results: dict[str, list[dict[str, Any]]] = {}
        for file, hashed, line in items:
            results.setdefault(file, []).append(
                {"type": "Secret Keyword", "hashed_secret": hashed, "line_number": line}
            )
        path = tmp_path / name
        path.write_text(json.dumps({"results": results}))
        return str(path)

    reviewed = baseline("reviewed.json", ("tests/a.py", "aa", 3))
    moved = baseline("moved.json", ("tests/a.py", "aa", 30))  # the same finding, moved
    added = baseline("added.json", ("tests/a.py", "aa", 3), ("services/b.py", "bb", 7))
    script = str(REPO_ROOT / "tools" / "ci" / "new_secrets.py")
    run = [sys.executable, script, reviewed]
    assert subprocess.run([*run, moved], check=False).returncode == 0
    done = subprocess.run([*run, added], capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert done.stdout == "services/b.py:7: Secret Keyword (not in the baseline)\n"
    assert "make security" in (REPO_ROOT / "cloudbuild.yaml").read_text()
