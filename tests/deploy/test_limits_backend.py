"""Shared limits in every multi-replica deployment: the chart refuses more than one
router without the shared Redis, runs one in the release or points at Memorystore, and
gives every router and key vault the same store; one image per service."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import pytest

from tests.deploy.chart import COMPONENTS, by_kind, container, env_of, render, workloads
from tests.deploy.test_chart import validate_all

NO_STORE: dict[str, Any] = {"limits": {"redis": {"deploy": False}}}
MEMORYSTORE = "redis://10.0.0.3:6379/0"
IN_RELEASE = "redis://agentopia-limits-redis.agentopia.svc.cluster.local:6379/0"


def with_router(**router: Any) -> dict[str, Any]:
    return {**NO_STORE, "router": router}


@pytest.mark.parametrize(
    ("values", "replicas"),
    [
        (NO_STORE, 20),  # the default autoscaler: 2 to 20
        (with_router(autoscaling={"enabled": True, "minReplicas": 1, "maxReplicas": 3}), 3),
        (with_router(replicas=2, autoscaling={"enabled": False}), 2),
        ({**NO_STORE, "topology": "colocated"}, 20),
    ],
    ids=["default-autoscaler", "autoscaler-max-3", "two-fixed", "colocated"],
)
def test_more_than_one_router_without_the_shared_store_is_refused(
    values: dict[str, Any], replicas: int
) -> None:
    with pytest.raises(helm.errors.HelmRenderError) as refused:
        render(values)
    message = str(refused.value)
    assert f"router: {replicas} replicas need the shared limits store" in message
    assert "limits.redis.url" in message and "limits.redis.deploy=true" in message


@pytest.mark.parametrize(
    "router",
    [
        {"replicas": 1, "autoscaling": {"enabled": False}},
        {"autoscaling": {"enabled": True, "minReplicas": 1, "maxReplicas": 1}},
    ],
    ids=["one-fixed", "autoscaler-max-1"],
)
def test_one_router_needs_no_store_and_gets_none(router: dict[str, Any]) -> None:
    documents = render(with_router(**router))
    for name in ("agentopia-router", "agentopia-keyvault"):
        assert "AGENTOPIA_LIMITS_REDIS_URL" not in env_of(workloads(documents)[name])
    assert "agentopia-limits-redis" not in by_kind(documents, "Deployment")


def test_by_default_the_release_runs_redis_and_every_router_and_key_vault_use_it() -> None:
    documents = render()
    deployments = workloads(documents)
    for name in ("agentopia-router", "agentopia-keyvault"):
        env = env_of(deployments[name])
        assert env["AGENTOPIA_LIMITS_REDIS_URL"]["value"] == IN_RELEASE, name
        assert env["AGENTOPIA_LIMITS_PREFIX"]["value"] == "agentopia:limits"
    for name in ("agentopia-provider", "agentopia-metrics", "agentopia-edge"):
        assert "AGENTOPIA_LIMITS_REDIS_URL" not in env_of(deployments[name]), name
    redis = by_kind(documents, "Deployment")["agentopia-limits-redis"]
    service = by_kind(documents, "Service")["agentopia-limits-redis"]
    assert service["spec"]["selector"] == redis["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["port"] == 6379
    # Restricted pod security, counters only: no persistence, bounded memory.
    pod = redis["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    redis_container = container(redis)
    assert redis_container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    args = redis_container["args"]
    assert args[args.index("--save") + 1] == "" and args[args.index("--appendonly") + 1] == "no"
    assert "--maxmemory" in args and redis_container["resources"]["limits"]["memory"]
    validate_all(documents)


def test_memorystore_replaces_the_in_release_redis() -> None:
    documents = render({"limits": {"redis": {"url": MEMORYSTORE}}})
    assert "agentopia-limits-redis" not in by_kind(documents, "Deployment")
    assert "agentopia-limits-redis" not in by_kind(documents, "Service")
    for name in ("agentopia-router", "agentopia-keyvault"):
        assert env_of(workloads(documents)[name])["AGENTOPIA_LIMITS_REDIS_URL"] == {
            "name": "AGENTOPIA_LIMITS_REDIS_URL",
            "value": MEMORYSTORE,
        }


def test_a_url_with_credentials_comes_from_a_secret() -> None:
    secret = {"name": "memorystore", "key": "url"}
    documents = render({"limits": {"redis": {"deploy": False, "urlSecret": secret}}})
    env = env_of(workloads(documents)["agentopia-router"])["AGENTOPIA_LIMITS_REDIS_URL"]
    assert env["valueFrom"]["secretKeyRef"] == secret
    assert "value" not in env
    assert "agentopia-limits-redis" not in by_kind(documents, "Deployment")


def test_the_colocated_router_gets_the_store_too() -> None:
    documents = render({"topology": "colocated"})
    env = env_of(workloads(documents)["agentopia-router"])
    assert env["AGENTOPIA_LIMITS_REDIS_URL"]["value"] == IN_RELEASE


def test_each_component_runs_its_own_image() -> None:
    registry = "europe-west1-docker.pkg.dev/p/agentopia"
    documents = render({"image": {"registry": registry, "tag": "abc123"}})
    for name, deployment in workloads(documents).items():
        component = name.removeprefix("agentopia-")
        assert container(deployment)["image"] == f"{registry}/{component}:abc123"
    pinned = f"{registry}/router@sha256:{'0' * 64}"
    documents = render({"images": {"router": pinned}})
    assert container(workloads(documents)["agentopia-router"])["image"] == pinned
    assert set(COMPONENTS) == {n.removeprefix("agentopia-") for n in workloads(documents)}


@pytest.mark.parametrize(
    ("values", "path"),
    [
        ({"limits": {"redis": {"deploy": "yes"}}}, "limits.redis.deploy"),
        ({"limits": {"redis": {"url": "http://10.0.0.3"}}}, "limits.redis.url"),
        ({"limits": {"redis": {"urls": "redis://x"}}}, "limits.redis"),
        ({"router": {"replicas": -1}}, "router.replicas"),
        ({"image": {"digest": "latest"}}, "image.digest"),
        ({"migrations": {"enabled": "sometimes"}}, "migrations.enabled"),
    ],
    ids=[
        "deploy-not-bool",
        "url-not-redis",
        "unknown-key",
        "negative-replicas",
        "bad-digest",
        "migrations",
    ],
)
def test_values_schema_refuses_bad_values_naming_them(values: dict[str, Any], path: str) -> None:
    with pytest.raises(helm.errors.HelmError) as refused:
        render(values)
    assert "values don't meet the specifications of the schema" in str(refused.value)
    assert path.rsplit(".", maxsplit=1)[-1] in str(refused.value)
