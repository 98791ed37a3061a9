"""GCP as code (deploy/terraform): one module, staging and production instantiations.
Parsed with python-hcl2 and analysed with checkov, offline (no provider download, no
cloud account)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

from gateway.settings import REPO_ROOT
from tests.deploy.chart import CHART, COMPONENTS

TERRAFORM = REPO_ROOT / "deploy" / "terraform"
MODULE = TERRAFORM / "modules" / "agentopia"
CHECKOV = REPO_ROOT / ".venv" / "bin" / "checkov"


def parse(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        data: dict[str, Any] = hcl2.load(handle)
    return data


def first(value: Any) -> Any:
    """python-hcl2 wraps attribute values and blocks in lists of one."""
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value


def resources() -> dict[str, dict[str, Any]]:
    """{type: {name: body}} over every file of the module."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(MODULE.glob("*.tf")):
        for block in parse(path).get("resource", []):
            for kind, named in block.items():
                for name, body in named.items():
                    found.setdefault(kind, {})[name] = body
    return found


def module_text() -> str:
    return "\n".join(p.read_text() for p in sorted(MODULE.glob("*.tf")))


def instantiation(environment: str) -> dict[str, Any]:
    module: dict[str, Any] = first(
        parse(TERRAFORM / "environments" / environment / "main.tf")["module"]
    )
    return {key: first(value) for key, value in module["agentopia"].items()}


def test_every_file_parses() -> None:
    files = sorted(TERRAFORM.rglob("*.tf"))
    assert len(files) >= 10
    for path in files:
        assert parse(path), path


@pytest.mark.parametrize(("environment", "ha"), [("staging", False), ("production", True)])
def test_staging_and_production_are_two_instantiations_of_one_module(
    environment: str, ha: bool
) -> None:
    module = instantiation(environment)
    assert module["source"] == "../../modules/agentopia"
    assert module["environment"] == environment
    assert module["high_availability"] is ha
    variables = {next(iter(v)) for v in parse(MODULE / "variables.tf")["variable"]}
    given = set(module) - {"source", "__start_line__", "__end_line__"}
    assert given <= variables


def test_one_service_account_per_workload_with_least_privilege() -> None:
    text = module_text()
    workloads = re.search(r"workloads\s*=\s*toset\(\[([^\]]*)\]\)", text)
    assert workloads is not None
    assert sorted(re.findall(r'"(\w+)"', workloads[1])) == sorted(COMPONENTS)
    # No primitive role anywhere; every role granted is a predefined, narrow one.
    granted = set(re.findall(r'"(roles/[\w.]+)"', text))
    assert not granted & {"roles/owner", "roles/editor", "roles/viewer"}
    assert all(
        not role.endswith(".admin") or role == "roles/ondemandscanning.admin" for role in granted
    )
    found = resources()
    identity = first(found["google_service_account_iam_member"]["workload_identity"])
    assert first(identity["role"]) == "roles/iam.workloadIdentityUser"
    # Bound to the chart's own Kubernetes ServiceAccounts (agentopia-NAME).
    assert "[${var.namespace}/agentopia-${each.key}]" in first(identity["member"])
    # Secrets are readable per secret, by the workloads that need them: never project-wide.
    assert "roles/secretmanager.secretAccessor" not in json.dumps(
        found["google_project_iam_member"]
    )


def test_gke_autopilot_with_workload_identity_and_private_nodes() -> None:
    cluster = first(resources()["google_container_cluster"]["gke"])
    assert first(cluster["enable_autopilot"]) is True
    assert "svc.id.goog" in first(first(cluster["workload_identity_config"])["workload_pool"])
    assert first(first(cluster["private_cluster_config"])["enable_private_nodes"]) is True
    assert first(cluster["deletion_protection"]) is True


def test_cloud_sql_is_private_backed_up_iam_authenticated_and_ha_in_production() -> None:
    instance = first(resources()["google_sql_database_instance"]["postgres"])
    settings = first(instance["settings"])
    ip = first(settings["ip_configuration"])
    assert first(ip["ipv4_enabled"]) is False
    assert first(ip["private_network"])
    backups = first(settings["backup_configuration"])
    assert first(backups["enabled"]) is True
    assert first(backups["point_in_time_recovery_enabled"]) is True
    assert first(settings["availability_type"]) == '${var.high_availability ? "REGIONAL" : "ZONAL"}'
    flags = {first(f["name"]): first(f["value"]) for f in settings["database_flags"]}
    assert flags["cloudsql.iam_authentication"] == "on"
    users = first(resources()["google_sql_user"]["service"])
    assert first(users["type"]) == "CLOUD_IAM_SERVICE_ACCOUNT"  # no password exists


def test_memorystore_is_the_limits_store_the_chart_profiles_read() -> None:
    redis = first(resources()["google_redis_instance"]["limits"])
    assert first(redis["auth_enabled"]) is True
    assert first(redis["transit_encryption_mode"]) == "SERVER_AUTHENTICATION"
    assert first(redis["tier"]) == '${var.high_availability ? "STANDARD_HA" : "BASIC"}'
    secrets = module_text()
    for profile in ("staging", "production"):
        values = yaml.safe_load((CHART / "profiles" / f"{profile}.yaml").read_text())
        name = values["limits"]["redis"]["urlSecret"]["name"]
        assert f'"{name}"' in secrets, profile
    # The Cloud Build smoke key is one of the module's secrets too.
    assert "agentopia-smoke-api-key" in (REPO_ROOT / "cloudbuild.yaml").read_text()
    assert '"agentopia-smoke-api-key"' in secrets


def test_cloud_build_triggers_run_cloudbuild_yaml_with_approval_for_production() -> None:
    triggers = resources()["google_cloudbuild_trigger"]
    assert set(triggers) == {"checks", "deploy"}
    for trigger in triggers.values():
        assert first(first(trigger)["filename"]) == "cloudbuild.yaml"
    deploy = first(triggers["deploy"])
    assert first(first(deploy["approval_config"])["approval_required"]) == (
        '${var.environment == "production"}'
    )


def test_checkov_finds_nothing() -> None:
    done = subprocess.run(
        [
            *(CHECKOV, "--quiet", "--compact", "--skip-download", "--framework", "terraform"),
            *("--output", "json", "-d", str(TERRAFORM)),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(done.stdout)
    assert report["summary"]["passed"] > 50
    failed = report["results"]["failed_checks"]
    assert [f"{c['check_id']} {c['resource']}" for c in failed] == []
    # Every skip names its check and says why, on the resource it concerns.
    skips = re.findall(r"#checkov:skip=([^:\n]+):([^\n]*)", module_text())
    assert skips
    for check, reason in skips:
        assert re.fullmatch(r"CKV2?_GCP_\d+", check), check
        assert len(reason.strip()) > 20, check
