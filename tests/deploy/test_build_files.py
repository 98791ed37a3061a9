"""skaffold.yaml, docker-compose.yaml and the Dockerfile agree with the repository."""

from __future__ import annotations

import importlib.util
import json
import re
from typing import Any

import yaml

from gateway.settings import REPO_ROOT
from tests.deploy.chart import CHART, COMPONENTS

DOCKERFILE = REPO_ROOT / "deploy" / "Dockerfile"
BACKING = {"postgres", "redis"}


def _stages() -> dict[str, dict[str, Any]]:
    """Each Dockerfile stage's base, exec-form CMD and HEALTHCHECK command."""
    stages: dict[str, dict[str, Any]] = {}
    current: dict[str, Any] = {}
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    for line in text.splitlines():
        if found := re.match(r"^FROM (\S+) AS (\S+)", line):
            current = stages.setdefault(found[2], {"base": found[1], "cmd": [], "health": []})
        elif line.startswith("CMD "):
            current["cmd"] = json.loads(line[4:])
        elif line.startswith("HEALTHCHECK "):
            current["health"] = json.loads(line.split(" CMD ", 1)[1])
    return stages


STAGES = _stages()


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO_ROOT / name).read_text())
    return data


def has_value(values: dict[str, Any], dotted: str) -> bool:
    node: Any = values
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def test_skaffold_builds_the_dockerfile_and_deploys_the_chart() -> None:
    config = load("skaffold.yaml")
    assert config["apiVersion"].startswith("skaffold/v4")
    artifacts = config["build"]["artifacts"]
    # One image per service, each the Dockerfile target of the same name.
    assert sorted(a["image"] for a in artifacts) == sorted(COMPONENTS)
    for artifact in artifacts:
        assert (REPO_ROOT / artifact["context"] / artifact["docker"]["dockerfile"]).is_file()
        assert artifact["docker"]["target"] == artifact["image"]
        assert artifact["image"] in STAGES
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for release in config["deploy"]["helm"]["releases"]:
        assert (REPO_ROOT / release["chartPath"]) == CHART
        for key, template in release["setValueTemplates"].items():
            assert has_value(values, key), key
            assert "IMAGE_" in template
    for profile in config.get("profiles", []):
        for patch in profile["patches"]:
            for key in patch["value"]:
                assert has_value(values, key), key


def test_compose_runs_every_component_from_the_dockerfile() -> None:
    compose = load("docker-compose.yaml")
    services = {k: v for k, v in compose["services"].items() if k not in BACKING}
    assert set(services) == set(COMPONENTS)
    assert set(compose["services"]) - set(services) == BACKING
    for name, service in services.items():
        build = service["build"]
        assert (REPO_ROOT / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
        assert build["target"] == name
        command = STAGES[name]["cmd"]
        assert command[:2] == ["python", "-m"], name
        assert importlib.util.find_spec(command[2].split(".")[0]) is not None, command
        probe = service["healthcheck"]["test"]
        assert probe[1:4] == ["python", "-m", "gateway.probe"], name
    assert services["edge"]["ports"] == ["127.0.0.1:8080:8080"]
    # Off unless the caller's shell asks for it (AGENTOPIA_DEMO=true docker compose up).
    demo = {service["environment"].get("AGENTOPIA_DEMO") for service in services.values()}
    assert demo == {"${AGENTOPIA_DEMO:-false}"}
    assert services["router"]["depends_on"]["keyvault"]["condition"] == "service_healthy"
    # PostgreSQL and Redis as in production: the stores and the shared limits.
    assert "postgres:5432" in services["keyvault"]["environment"]["AGENTOPIA_KEYVAULT_DATABASE_URL"]
    assert "postgres:5432" in services["metrics"]["environment"]["AGENTOPIA_METRICS_DATABASE_URL"]
    assert services["router"]["environment"]["AGENTOPIA_LIMITS_REDIS_URL"] == "redis://redis:6379/0"
    for name in ("keyvault", "metrics"):
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_the_dev_override_runs_every_component_with_hot_reload() -> None:
    dev = load("docker-compose.dev.yaml")["services"]
    assert set(dev) == set(COMPONENTS)
    assert "watchfiles" in STAGES["dev"]["cmd"][-1]
    for name, service in dev.items():
        assert service["build"]["target"] == "dev"
        assert ".:/app:ro" in service["volumes"]
        module = service["environment"]["AGENTOPIA_COMPONENT"]
        assert module == STAGES[name]["cmd"][2], name
        probe = service["environment"]["AGENTOPIA_HEALTH_PROBE"].split()
        assert probe[0] in ("grpc", "http"), name


def test_dockerfile_is_multi_stage_locked_and_non_root() -> None:
    text = DOCKERFILE.read_text()
    assert len(re.findall(r"^FROM ", text, re.MULTILINE)) >= 3
    assert "uv sync --frozen" in text
    assert "make protos" in text
    users = re.findall(r"^USER (\S+)", text, re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    for source in re.findall(r"^COPY --from=build /app/(\S+)", text, re.MULTILINE):
        top = source.split("/")[0]
        if top != "gen":  # produced by the build stage
            assert (REPO_ROOT / top).is_dir(), source
    assert "AGENTOPIA_DEMO=" not in text  # images ship with the development switch off
    ignore = (REPO_ROOT / "deploy" / "Dockerfile.dockerignore").read_text().split()
    assert {".git", ".venv", "gen", "var", "node_modules"} <= set(ignore)


def test_one_image_per_service_each_with_its_command_and_health_check() -> None:
    for name in COMPONENTS:
        stage = STAGES[name]
        assert stage["base"] == "runtime", name
        assert stage["cmd"][:2] == ["python", "-m"], name
        assert stage["health"][:3] == ["python", "-m", "gateway.probe"], name
    ports = {"router": "50051", "provider": "50052", "keyvault": "50053", "metrics": "50054"}
    for name, port in ports.items():
        assert STAGES[name]["health"][3:] == ["grpc", f"127.0.0.1:{port}"], name
    assert STAGES["edge"]["health"][3] == "http"
