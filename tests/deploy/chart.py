"""Render the Helm chart offline (Helm's own engine via helm-python-sdk)."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import yaml

from gateway.settings import REPO_ROOT

CHART = REPO_ROOT / "helm" / "agentopia"
KUBERNETES = "1.33"
COMPONENTS = ("keyvault", "metrics", "provider", "router", "edge")


def render(
    values: dict[str, Any] | None = None, namespace: str = "agentopia"
) -> list[dict[str, Any]]:
    with helm.Chart.load(CHART) as chart:
        manifests = chart.render(
            values or {}, name="agentopia", namespace=namespace, is_install=True
        )
    documents: list[dict[str, Any]] = []
    for path, text in sorted(manifests.items()):
        if path.endswith(".txt"):
            continue
        documents += [doc for doc in yaml.safe_load_all(text) if doc]
    return documents


def notes(values: dict[str, Any] | None = None) -> str:
    with helm.Chart.load(CHART) as chart:
        manifests = chart.render(values or {}, name="agentopia", namespace="agentopia")
    return manifests["agentopia/templates/NOTES.txt"]


def by_kind(documents: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in documents if doc["kind"] == kind}


def workloads(documents: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The gateway's own Deployments (one per component), without the limits Redis."""
    return {
        name: doc
        for name, doc in by_kind(documents, "Deployment").items()
        if doc["metadata"]["labels"]["app.kubernetes.io/component"] in COMPONENTS
    }


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
    return containers[0]


def env_of(deployment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in container(deployment)["env"]}
