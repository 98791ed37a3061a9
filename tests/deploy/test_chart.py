"""The Helm chart: lint, schema validation of every manifest, the edge's Envoy config."""

from __future__ import annotations

import pathlib
import subprocess
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from gateway.helm_template import IMAGE_DESCRIPTOR, render_helm_files
from gateway.launcher import envoy_command
from gateway.settings import EdgeSettings
from tests.deploy.chart import (
    CHART,
    COMPONENTS,
    KUBERNETES,
    by_kind,
    container,
    env_of,
    notes,
    render,
    workloads,
)

CUSTOM: dict[str, Any] = {
    "image": {
        "repository": "europe-docker.pkg.dev/p/agentopia/agentopia",
        "digest": "sha256:" + "a" * 64,
    },
    "gcp": {"serviceAccount": "agentopia@p.iam.gserviceaccount.com"},
    "otel": {
        "enabled": True,
        "host": "otel-collector.observability.svc.cluster.local",
        "port": 4317,
    },
    "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus"}},
    "router": {"autoscaling": {"enabled": False}, "replicas": 3, "pdb": {"maxUnavailable": 1}},
    "provider": {
        "envFromSecrets": ["agentopia-extra-providers"],
        "env": {"AGENTOPIA_UPSTREAM_TOTAL_TIMEOUT_S": 600},
    },
    "keyvault": {
        "env": {
            "AGENTOPIA_KEK_SOURCE": "file",
            "AGENTOPIA_KEK_FILE": "/var/run/secrets/kek/kek.key",
        },
        "secretFiles": [{"secretName": "agentopia-kek", "mountPath": "/var/run/secrets/kek"}],
        "serviceAccount": {"gcpServiceAccount": "keyvault@p.iam.gserviceaccount.com"},
    },
    "metrics": {"autoscaling": {"enabled": False}, "replicas": 1},
    "edge": {
        "service": {"type": "LoadBalancer", "annotations": {"cloud.google.com/l4-rbs": "enabled"}},
        "envoy": {"streamIdleTimeoutSeconds": 900},
    },
}


def validate_all(documents: list[dict[str, Any]]) -> set[str]:
    kinds = set()
    for doc in documents:
        kinds.add(doc["kind"])
        if doc["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # a CRD: no schema in kubernetes-validate
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)
    return kinds


@pytest.mark.parametrize("values", [{}, CUSTOM], ids=["default", "custom"])
def test_every_manifest_is_valid_kubernetes(values: dict[str, Any]) -> None:
    kinds = validate_all(render(values))
    assert {"Deployment", "Service", "ServiceAccount", "ConfigMap", "PodDisruptionBudget"} <= kinds


@pytest.mark.parametrize("values", [{}, CUSTOM], ids=["default", "custom"])
def test_helm_lint_is_clean(values: dict[str, Any]) -> None:
    report = helm.lint(CHART, values, strict=True, kube_version=f"v{KUBERNETES}.0")
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_one_block_per_component_with_the_same_shape() -> None:
    documents = render()
    deployments = workloads(documents)
    assert set(deployments) == {f"agentopia-{name}" for name in COMPONENTS}
    assert set(by_kind(documents, "HorizontalPodAutoscaler")) == set(deployments)
    assert set(by_kind(documents, "PodDisruptionBudget")) == set(deployments)
    assert set(by_kind(documents, "ServiceAccount")) == set(deployments)
    services = by_kind(documents, "Service")
    for name in COMPONENTS:
        assert f"agentopia-{name}" in services
        if name != "edge":
            assert services[f"agentopia-{name}-headless"]["spec"]["clusterIP"] == "None"
    for name, deployment in deployments.items():
        spec = container(deployment)
        assert "replicas" not in deployment["spec"]  # the HPA owns it
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            if name == "agentopia-edge":
                assert spec[probe]["httpGet"]["path"] == "/healthz"
            else:
                assert spec[probe]["grpc"]["port"] == spec["ports"][0]["containerPort"]
        assert spec["securityContext"]["readOnlyRootFilesystem"] is True
        assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_secrets_are_only_referenced() -> None:
    secretish = ("API_KEY", "ADMIN_KEY", "DATABASE_URL", "TOKEN", "PASSWORD")
    for deployment in workloads(render(CUSTOM)).values():
        for name, entry in env_of(deployment).items():
            if any(marker in name for marker in secretish):
                assert "value" not in entry, name
                assert entry["valueFrom"]["secretKeyRef"]["name"], name
    # The one Secret the chart renders holds workload-identity tokens it generates
    # itself (no value comes from the values); without it, none.
    assert set(by_kind(render(CUSTOM), "Secret")) == {"agentopia-workload-identity"}
    assert not by_kind(render({**CUSTOM, "identity": {"create": False}}), "Secret")


def test_custom_values_take_effect() -> None:
    documents = render(CUSTOM)
    deployments = workloads(documents)
    router = deployments["agentopia-router"]
    assert router["spec"]["replicas"] == 3
    assert "agentopia-router" not in by_kind(documents, "HorizontalPodAutoscaler")
    assert (
        by_kind(documents, "PodDisruptionBudget")["agentopia-router"]["spec"]["maxUnavailable"] == 1
    )
    assert "agentopia-metrics" not in by_kind(
        documents, "PodDisruptionBudget"
    )  # one replica: no PDB
    assert (
        container(router)["image"]
        == CUSTOM["image"]["repository"] + "@" + CUSTOM["image"]["digest"]
    )
    accounts = by_kind(documents, "ServiceAccount")
    annotation = "iam.gke.io/gcp-service-account"
    assert (
        accounts["agentopia-router"]["metadata"]["annotations"][annotation]
        == CUSTOM["gcp"]["serviceAccount"]
    )
    assert (
        accounts["agentopia-keyvault"]["metadata"]["annotations"][annotation]
        == "keyvault@p.iam.gserviceaccount.com"
    )
    assert (
        env_of(router)["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"]
        == "http://otel-collector.observability.svc.cluster.local:4317"
    )
    provider = deployments["agentopia-provider"]
    assert container(provider)["envFrom"] == [{"secretRef": {"name": "agentopia-extra-providers"}}]
    assert env_of(provider)["AGENTOPIA_UPSTREAM_TOTAL_TIMEOUT_S"]["value"] == "600"
    keyvault = deployments["agentopia-keyvault"]
    mounts = {m["mountPath"] for m in container(keyvault)["volumeMounts"]}
    assert "/var/run/secrets/kek" in mounts
    monitors = by_kind(documents, "ServiceMonitor")
    assert set(monitors) == {f"agentopia-{name}" for name in COMPONENTS}
    assert by_kind(documents, "Service")["agentopia-edge"]["spec"]["type"] == "LoadBalancer"


def test_peers_and_listen_addresses_use_cluster_dns() -> None:
    deployments = workloads(render(namespace="prod"))
    env = env_of(deployments["agentopia-router"])
    assert env["AGENTOPIA_ROUTER_LISTEN"]["value"] == "0.0.0.0:50051"
    assert (
        env["AGENTOPIA_KEYVAULT_TARGET"]["value"]
        == "agentopia-keyvault.prod.svc.cluster.local:50053"
    )
    assert (
        env["AGENTOPIA_PROVIDER_TARGET"]["value"]
        == "agentopia-provider.prod.svc.cluster.local:50052"
    )
    assert env["AGENTOPIA_PROMETHEUS_ADDR"]["value"] == "0.0.0.0"


def test_one_service_token_secret_for_the_key_vault_and_the_provider_only() -> None:
    def token_refs(values: dict[str, Any]) -> dict[str, Any]:
        deployments = workloads(render(values))
        refs = {}
        for name, deployment in deployments.items():
            entry = env_of(deployment).get("AGENTOPIA_KEYVAULT_SERVICE_TOKEN")
            if entry is not None:
                refs[name] = entry["valueFrom"]["secretKeyRef"]
        return refs

    expected = {"name": "agentopia-service-token", "key": "token"}
    assert token_refs({}) == {"agentopia-keyvault": expected, "agentopia-provider": expected}
    mine = {"serviceToken": {"existingSecret": "mesh-token", "key": "value"}}
    custom = {"name": "mesh-token", "key": "value"}
    assert token_refs(mine) == {"agentopia-keyvault": custom, "agentopia-provider": custom}
    assert token_refs({"serviceToken": {"existingSecret": ""}}) == {}
    assert "mesh-token (value" in notes(mine)


def demo_switches(values: dict[str, Any]) -> dict[str, str]:
    deployments = workloads(render(values))
    return {
        name: entry["value"]
        for name, deployment in deployments.items()
        if (entry := env_of(deployment).get("AGENTOPIA_DEMO")) is not None
    }


def test_the_demo_models_and_mock_provider_are_off_unless_asked_for() -> None:
    assert demo_switches({}) == {}
    assert demo_switches(CUSTOM) == {}


def test_demo_enabled_turns_them_on_for_the_router_and_the_provider_only() -> None:
    on = {"demo": {"enabled": True}}
    assert demo_switches(on) == {"agentopia-router": "true", "agentopia-provider": "true"}
    validate_all(render(on))


def edge_config(documents: list[dict[str, Any]]) -> str:
    text: str = by_kind(documents, "ConfigMap")["agentopia-edge"]["data"]["envoy.yaml"]
    return text


@pytest.mark.parametrize("values", [{}, CUSTOM], ids=["default", "custom"])
def test_edge_configmap_is_a_valid_envoy_bootstrap(
    values: dict[str, Any], tmp_path: pathlib.Path
) -> None:
    documents = render(values, namespace="prod")
    text = edge_config(documents)
    bootstrap = yaml.safe_load(text)
    clusters = {c["name"]: c for c in bootstrap["static_resources"]["clusters"]}
    endpoint = clusters["router"]["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    assert endpoint["address"]["socket_address"] == {
        "address": "agentopia-router-headless.prod.svc.cluster.local",
        "port_value": 50051,
    }
    assert "agentopia-router-headless" in by_kind(documents, "Service")
    assert ("otel_collector" in clusters) == bool(values.get("otel", {}).get("enabled"))
    # Validate with the real Envoy, the image's descriptor path pointed at ours.
    local = str(EdgeSettings().descriptor_path)
    config = tmp_path / "envoy.yaml"
    config.write_text(text.replace(str(IMAGE_DESCRIPTOR), local))
    result = subprocess.run(
        [*envoy_command(config, concurrency=1), "--mode", "validate"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Deprecated" not in result.stdout + result.stderr


def test_edge_pods_roll_when_the_envoy_config_changes() -> None:
    def checksum(values: dict[str, Any]) -> str:
        edge = workloads(render(values))["agentopia-edge"]
        value: str = edge["spec"]["template"]["metadata"]["annotations"]["checksum/envoy-config"]
        return value

    assert checksum({}) != checksum({"edge": {"envoy": {"streamIdleTimeoutSeconds": 900}}})


def test_chart_envoy_files_are_generated_from_gateway() -> None:
    for path, text in render_helm_files().items():
        assert path.read_text() == text, f"{path} is stale: run `python -m gateway.helm_template`"


def test_notes_warn_about_an_unset_kek_secret() -> None:
    assert "PROJECT_ID" in notes()
    named = {"keyvault": {"env": {"AGENTOPIA_KEK_SECRET": "projects/p/secrets/kek"}}}
    assert "WARNING" not in notes(named)
