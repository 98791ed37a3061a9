"""Database migrations run as Helm hook Jobs before every install and upgrade, with the
owning service's image, configuration and secrets."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import pytest

from tests.deploy.chart import by_kind, container, env_of, render, workloads
from tests.deploy.test_chart import validate_all

DATABASE = {"name": "keyvault-db", "key": "url"}
VALUES: dict[str, Any] = {
    "image": {"registry": "europe-west1-docker.pkg.dev/p/agentopia", "tag": "abc"},
    "keyvault": {
        "secretEnv": [
            {"name": "AGENTOPIA_KEYVAULT_DATABASE_URL", "secretName": "keyvault-db", "key": "url"}
        ]
    },
}


def test_one_pre_upgrade_hook_job_per_database_owner() -> None:
    documents = render(VALUES)
    jobs = by_kind(documents, "Job")
    assert set(jobs) == {"agentopia-keyvault-migrate", "agentopia-metrics-migrate"}
    for service in ("keyvault", "metrics"):
        job = jobs[f"agentopia-{service}-migrate"]
        annotations = job["metadata"]["annotations"]
        assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
        assert "hook-succeeded" in annotations["helm.sh/hook-delete-policy"]
        migrate = container(job)
        assert migrate["command"] == ["python", "-m", service, "migrate"]
        # The service's own image and configuration, so it migrates what it will serve.
        deployment = workloads(documents)[f"agentopia-{service}"]
        assert migrate["image"] == container(deployment)["image"]
        assert migrate["securityContext"] == container(deployment)["securityContext"]
        assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
        env = env_of(job)
        # No workload identity: its Secret is created with the release, after the hook.
        assert not [name for name in env if name.startswith("AGENTOPIA_IDENTITY_")][1:]
        assert env["AGENTOPIA_IDENTITY_REQUIRED"]["value"] == "false"
    keyvault = env_of(jobs["agentopia-keyvault-migrate"])
    url = keyvault["AGENTOPIA_KEYVAULT_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    assert url == DATABASE
    validate_all(documents)


def test_migrations_can_be_left_to_the_operator() -> None:
    assert not by_kind(render({**VALUES, "migrations": {"enabled": False}}), "Job")


def test_the_cloud_sql_auth_proxy_runs_beside_each_database_owner_with_iam_auth() -> None:
    instance = "agentopia-staging:europe-west1:agentopia-staging"
    documents = render({**VALUES, "cloudSqlProxy": {"enabled": True, "instance": instance}})
    pods = {name: d["spec"]["template"]["spec"] for name, d in workloads(documents).items()}
    pods |= {name: j["spec"]["template"]["spec"] for name, j in by_kind(documents, "Job").items()}
    with_proxy = {name for name, pod in pods.items() if pod.get("initContainers")}
    assert with_proxy == {
        "agentopia-keyvault",
        "agentopia-metrics",
        "agentopia-keyvault-migrate",
        "agentopia-metrics-migrate",
    }
    for name in with_proxy:
        proxy = pods[name]["initContainers"][0]
        assert proxy["restartPolicy"] == "Always"  # a native sidecar: up before, down after
        assert "--auto-iam-authn" in proxy["args"] and proxy["args"][-1] == instance
        assert proxy["securityContext"]["readOnlyRootFilesystem"] is True
    validate_all(documents)


def test_the_proxy_without_an_instance_is_refused() -> None:
    with pytest.raises(helm.errors.HelmError, match=r"cloudSqlProxy\.instance"):
        render({"cloudSqlProxy": {"enabled": True}})
