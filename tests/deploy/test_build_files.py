"""skaffold.yaml, docker-compose.yaml and the Dockerfile agree with the repository."""

from __future__ import annotations

import importlib.util
import re
from typing import Any

import yaml

from gateway.settings import REPO_ROOT
from tests.deploy.chart import CHART, COMPONENTS

DOCKERFILE = REPO_ROOT / "deploy" / "Dockerfile"


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
    assert [a["image"] for a in artifacts] == ["agentopia"]
    for artifact in artifacts:
        assert (REPO_ROOT / artifact["context"] / artifact["docker"]["dockerfile"]).is_file()
        assert f"FROM ${{PYTHON_IMAGE}} AS {artifact['docker']['target']}" in DOCKERFILE.read_text()
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
    services = compose["services"]
    assert set(services) == set(COMPONENTS)
    for name, service in services.items():
        build = service["build"]
        assert (REPO_ROOT / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
        command = service["command"]
        assert command[:2] == ["python", "-m"], name
        assert importlib.util.find_spec(command[2].split(".")[0]) is not None, command
        probe = service["healthcheck"]["test"]
        assert probe[1:4] == ["python", "-m", "gateway.probe"], name
    assert services["edge"]["ports"] == ["127.0.0.1:8080:8080"]
    # Off unless the caller's shell asks for it (AGENTOPIA_DEMO=true docker compose up).
    demo = {service["environment"].get("AGENTOPIA_DEMO") for service in services.values()}
    assert demo == {"${AGENTOPIA_DEMO:-false}"}
    assert services["router"]["depends_on"]["keyvault"]["condition"] == "service_healthy"


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
