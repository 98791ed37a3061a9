"""Schema-driven fuzzing of the whole REST API through the real edge: every operation
of the generated OpenAPI document (gen/docs/openapi.json, from the protos and the
providers' published shapes) gets requests that schemathesis derives from its schema
— valid ones and ones that break it — and must answer each without a 5xx, without a
hang, and without a secret in what it sends back.

Schemathesis (https://schemathesis.readthedocs.io) is used for what it does best:
turning an OpenAPI document into Hypothesis strategies. It runs against a mesh of its
own, because the fuzzer creates, rotates and revokes keys and edits the routing
configuration with an admin key.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import Case

from gateway.settings import REPO_ROOT
from tests.support.edge import run_edge
from tests.support.mesh import run_mesh

OPENAPI = REPO_ROOT / "gen" / "docs" / "openapi.json"
EXAMPLES_PER_OPERATION = 25
# Bounds a hang; a request that needs it is a failure.
REQUEST_TIMEOUT_S = 30.0
# Endless by design: a live stream never ends, so it cannot be fuzzed for an answer.
_SKIPPED = {("GET", "/agentopia/v1/live:events")}

pytestmark = pytest.mark.skipif(not OPENAPI.exists(), reason="run `make protos` first")


@dataclass(frozen=True)
class Target:
    url: str
    admin_key: str
    secrets: tuple[str, ...]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def target(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Target]:
    workdir: Path = tmp_path_factory.mktemp("fuzz")
    async with (
        run_mesh(workdir, topology="split") as mesh,
        run_edge(
            router_port=mesh.services["router"].port,
            keyvault_port=mesh.services["keyvault"].port,
            metrics_port=mesh.services["metrics"].port,
        ) as edge,
    ):
        secrets = tuple(
            value
            for name, value in mesh.router_env.items()
            if len(value) >= 16 and ("KEY" in name or "TOKEN" in name) and "/" not in value
        )
        yield Target(edge.url, mesh.admin_key, (mesh.admin_key, *secrets))


def _operations() -> Iterator[object]:
    if not OPENAPI.exists():
        return
    schema = schemathesis.openapi.from_path(OPENAPI)
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an invalid one fails here
        if (operation.method.upper(), operation.path) not in _SKIPPED:
            yield pytest.param(operation, id=f"{operation.method.upper()} {operation.path}")


@pytest.mark.parametrize("operation", list(_operations()))
def test_no_operation_answers_a_5xx_hangs_or_leaks(target: Target, operation: object) -> None:
    strategy = operation.as_strategy()  # type: ignore[attr-defined]
    failures: list[str] = []

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(strategy)
    def check(case: Case[Any]) -> None:
        headers = {"Authorization": f"Bearer {target.admin_key}"}
        try:
            response = case.call(base_url=target.url, headers=headers, timeout=REQUEST_TIMEOUT_S)
        except requests.Timeout:
            failures.append(f"{case.method} {case.formatted_path}: no answer in time")
            return
        text = response.text
        where = f"{case.method} {case.formatted_path} -> {response.status_code}"
        if response.status_code >= 500:
            failures.append(f"{where}: {text[:300]}")
        for secret in target.secrets:
            if secret in text or any(secret in v for v in response.headers.values()):
                failures.append(f"{where}: a secret is in the response")
        if response.status_code >= 400 and text:
            _error_has_a_code(where, text, failures)

    check()
    assert not failures, "\n".join(sorted(set(failures))[:20])


def _error_has_a_code(where: str, text: str, failures: list[str]) -> None:
    """Every error is machine-readable: a JSON body with a stable code."""
    try:
        body = json.loads(text)
    except ValueError:
        failures.append(f"{where}: an error body that is not JSON: {text[:120]!r}")
        return
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        if not (error.get("code") or error.get("type")):
            failures.append(f"{where}: an error without a code")
    elif not (isinstance(body, dict) and ("code" in body or body.get("type") == "error")):
        failures.append(f"{where}: an error body of no known shape: {text[:120]!r}")
