"""Every deployment profile (dev, staging, production) in both topologies renders,
passes helm lint, validates against the Kubernetes schemas and passes checkov; the
Dockerfile passes checkov too. All offline."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

from gateway.settings import REPO_ROOT
from tests.deploy.chart import CHART, KUBERNETES, by_kind, container, env_of, render, workloads
from tests.deploy.test_chart import validate_all

PROFILES = ("dev", "staging", "production")
TOPOLOGIES = ("split", "colocated")
REGISTRY = "europe-west1-docker.pkg.dev/agentopia-staging/agentopia"
DIGEST = "sha256:" + "0" * 64  # CI deploys by digest; any well-formed one renders alike
CHECKOV = REPO_ROOT / ".venv" / "bin" / "checkov"
# checkov's Kubernetes checks that do not apply to rendered templates, each with why.
NOT_APPLICABLE = {
    # The namespace comes from `helm upgrade --namespace`; templates leave it unset.
    "CKV_K8S_21",
    # Pods are pinned by digest (image.digest / images.*), so IfNotPresent is exact.
    "CKV_K8S_15",
    # No CPU limits on purpose: CFS throttling adds tail latency to a latency-bound
    # gateway; requests are sized from docs/performance.md and HPA scales on them.
    "CKV_K8S_11",
    # Provider keys reach the provider service as environment variables by design
    # (12-factor configuration); secretFiles mounts them as files where preferred.
    "CKV_K8S_35",
}


def values_for(profile: str, topology: str) -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load((CHART / "profiles" / f"{profile}.yaml").read_text())
    values["topology"] = topology
    values["image"] = {"registry": REGISTRY, "tag": "0123abc", "digest": DIGEST}
    if profile != "dev":  # what tools/ci/deploy.sh sets from the project
        proxy = values["cloudSqlProxy"]
        proxy["instance"] = f"agentopia-{profile}:europe-west1:agentopia-{profile}"
        proxy["image"] = f"gcr.io/cloud-sql-connectors/cloud-sql-proxy@{DIGEST}"
    return values


CASES = [(p, t) for p in PROFILES for t in TOPOLOGIES]


@pytest.mark.parametrize(("profile", "topology"), CASES, ids=[f"{p}-{t}" for p, t in CASES])
def test_every_profile_renders_lints_and_validates(profile: str, topology: str) -> None:
    values = values_for(profile, topology)
    documents = render(values)
    kinds = validate_all(documents)
    assert {"Deployment", "Service", "NetworkPolicy"} <= kinds
    report = helm.lint(CHART, values, strict=True, kube_version=f"v{KUBERNETES}.0")
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []
    for name, deployment in workloads(documents).items():
        assert container(deployment)["image"].endswith(f"@{DIGEST}"), name
    router = env_of(workloads(documents)["agentopia-router"])
    if profile == "dev":
        assert "AGENTOPIA_LIMITS_REDIS_URL" not in router  # one router counts alone, exactly
    else:
        assert router["AGENTOPIA_LIMITS_REDIS_URL"]["valueFrom"]["secretKeyRef"] == {
            "name": "agentopia-limits-redis",
            "key": "url",
        }
        assert by_kind(documents, "HorizontalPodAutoscaler")
        for deployment in workloads(documents).values():
            spread = deployment["spec"]["template"]["spec"].get("topologySpreadConstraints")
            if deployment["metadata"]["name"] in ("agentopia-router", "agentopia-edge"):
                assert spread and spread[0]["topologyKey"] == "topology.kubernetes.io/zone"


def checkov(path: Path, framework: str) -> dict[str, Any]:
    done = subprocess.run(
        [
            *(CHECKOV, "--quiet", "--compact", "--skip-download", "--framework", framework),
            *("--output", "json", "--skip-check", ",".join(sorted(NOT_APPLICABLE))),
            *("-d", str(path)),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    report: dict[str, Any] = json.loads(done.stdout) if done.stdout.strip() else {}
    return report


def failures(report: dict[str, Any]) -> list[str]:
    failed = report.get("results", {}).get("failed_checks", [])
    return [f"{c['check_id']} {c['resource']} ({c['check_name']})" for c in failed]


@pytest.mark.parametrize("profile", PROFILES)
def test_checkov_finds_nothing_in_the_rendered_chart(profile: str, tmp_path: Path) -> None:
    for topology in TOPOLOGIES:
        documents = render(values_for(profile, topology))
        (tmp_path / f"{topology}.yaml").write_text(yaml.safe_dump_all(documents))
    report = checkov(tmp_path, "kubernetes")
    assert report["summary"]["passed"] > 100  # it read every rendered workload
    assert failures(report) == []


def test_checkov_finds_nothing_in_the_dockerfile() -> None:
    report = checkov(REPO_ROOT / "deploy", "dockerfile")
    assert report["summary"]["passed"] > 0
    assert failures(report) == []


def pods(documents: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    kinds = ("Deployment", "Job")
    return {
        f"{doc['kind']}/{doc['metadata']['name']}": doc["spec"]["template"]["spec"]
        for doc in documents
        if doc["kind"] in kinds
    }


@pytest.mark.parametrize(("profile", "topology"), CASES, ids=[f"{p}-{t}" for p, t in CASES])
def test_every_pod_meets_the_restricted_pod_security_standard(profile: str, topology: str) -> None:
    documents = render(values_for(profile, topology))
    for name, pod in pods(documents).items():
        security = pod["securityContext"]
        assert security["runAsNonRoot"] is True, name
        assert security["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod["automountServiceAccountToken"] is False, name
        assert not pod.get("hostNetwork") and not pod.get("hostPID"), name
        for box in pod["containers"] + pod.get("initContainers", []):
            context = box["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, (name, box["name"])
            assert context["capabilities"]["drop"] == ["ALL"], (name, box["name"])
            assert context["readOnlyRootFilesystem"] is True, (name, box["name"])
            assert "add" not in context["capabilities"], (name, box["name"])
            assert box["resources"]["requests"]["memory"], (name, box["name"])
