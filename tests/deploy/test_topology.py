"""The chart in either topology: `colocated` renders no provider workload, runs the
router's pods as `python -m services.colocated` with the provider's settings and
secrets, and points the key vault at the router's Service; both render valid
Kubernetes manifests and lint clean; any other topology fails the render."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import pytest

from tests.deploy.chart import (
    CHART,
    KUBERNETES,
    by_kind,
    container,
    env_of,
    notes,
    render,
    workloads,
)
from tests.deploy.test_chart import CUSTOM, validate_all

COLOCATED: dict[str, Any] = {"topology": "colocated"}
KINDS = ("Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget")


def _names(documents: list[dict[str, Any]]) -> set[str]:
    return {doc["metadata"]["name"] for doc in documents}


@pytest.mark.parametrize("values", [{}, CUSTOM], ids=["default", "custom"])
@pytest.mark.parametrize("topology", ["split", "colocated"])
def test_both_topologies_render_valid_kubernetes(values: dict[str, Any], topology: str) -> None:
    kinds = validate_all(render({**values, "topology": topology}))
    assert {"Deployment", "Service", "ServiceAccount", "PodDisruptionBudget"} <= kinds


@pytest.mark.parametrize("topology", ["split", "colocated"])
def test_both_topologies_lint_clean(topology: str) -> None:
    values = {**CUSTOM, "topology": topology}
    report = helm.lint(CHART, values, strict=True, kube_version=f"v{KUBERNETES}.0")
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_split_is_the_default_and_renders_the_provider_workload() -> None:
    assert _names(render()) == _names(render({"topology": "split"}))
    assert "agentopia-provider" in workloads(render())


def test_colocated_renders_no_provider_workload() -> None:
    monitored = {"serviceMonitor": {"enabled": True}}  # every optional kind rendered
    documents = render({**monitored, **COLOCATED})
    assert not [name for name in _names(documents) if "provider" in name]
    for kind in (*KINDS, "ServiceAccount", "ServiceMonitor"):
        assert "agentopia-router" in by_kind(documents, kind), kind


def test_colocated_router_runs_both_services_with_the_provider_settings() -> None:
    values = {
        **COLOCATED,
        "demo": {"enabled": True},
        "router": {"env": {"AGENTOPIA_MAX_BODY_BYTES": "1048576"}},
        "provider": {
            "env": {"AGENTOPIA_UPSTREAM_TOTAL_TIMEOUT_S": 600, "AGENTOPIA_MAX_BODY_BYTES": "1"},
            "envFromSecrets": ["agentopia-extra-providers"],
            "secretFiles": [{"secretName": "vendor-ca", "mountPath": "/var/run/vendor"}],
        },
    }
    router = workloads(render(values))["agentopia-router"]
    spec = container(router)
    assert spec["command"] == ["python", "-m", "services.colocated"]
    env = env_of(router)
    assert env["AGENTOPIA_UPSTREAM_TOTAL_TIMEOUT_S"]["value"] == "600"
    assert env["AGENTOPIA_MAX_BODY_BYTES"]["value"] == "1048576"  # the router's own wins
    assert env["OPENAI_API_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "agentopia-providers"
    token = env["AGENTOPIA_KEYVAULT_SERVICE_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert token == {"name": "agentopia-service-token", "key": "token"}
    assert env["AGENTOPIA_DEMO"]["value"] == "true"
    names = [entry["name"] for entry in spec["env"]]
    assert len(names) == len(set(names))
    assert spec["envFrom"] == [{"secretRef": {"name": "agentopia-extra-providers"}}]
    assert "/var/run/vendor" in {mount["mountPath"] for mount in spec["volumeMounts"]}


def test_colocated_key_vault_validates_provider_keys_at_the_router_service() -> None:
    deployments = workloads(render(COLOCATED, namespace="prod"))
    target = env_of(deployments["agentopia-keyvault"])["AGENTOPIA_PROVIDER_TARGET"]["value"]
    assert target == "agentopia-router.prod.svc.cluster.local:50051"
    split = workloads(render(namespace="prod"))
    target = env_of(split["agentopia-keyvault"])["AGENTOPIA_PROVIDER_TARGET"]["value"]
    assert target == "agentopia-provider.prod.svc.cluster.local:50052"


def test_the_service_token_reaches_whichever_workload_runs_the_provider() -> None:
    def holders(values: dict[str, Any]) -> set[str]:
        return {
            name
            for name, deployment in workloads(render(values)).items()
            if "AGENTOPIA_KEYVAULT_SERVICE_TOKEN" in env_of(deployment)
        }

    assert holders({}) == {"agentopia-keyvault", "agentopia-provider"}
    assert holders(COLOCATED) == {"agentopia-keyvault", "agentopia-router"}


def test_the_notes_name_the_topology() -> None:
    assert "Topology: split" in notes()
    assert "Topology: colocated" in notes(COLOCATED)


def test_any_other_topology_fails_the_render() -> None:
    with pytest.raises(Exception, match="topology must be split or colocated"):
        render({"topology": "together"})
