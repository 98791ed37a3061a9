"""Every example in docs/examples/ runs against the live mesh behind the real Envoy
edge: curl, the official SDKs and the typed gRPC stubs. A curl example's answer must
keep the shape of its recorded `response.json` (or `response.txt`), which the OpenAPI
document embeds; an endpoint without an example fails here too.

Each run gets a fresh client key and provider key (CLIENT_KEY_ID, PROVIDER_KEY_ID),
so examples that revoke, rotate or delete never depend on each other's order."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pathlib
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import grpc
import pytest
import pytest_asyncio
from agentopia.v1 import client_key_service_pb2 as ck_pb2
from agentopia.v1 import client_key_service_pb2_grpc as ck_grpc
from agentopia.v1 import keyvault_types_pb2 as kv_types
from agentopia.v1 import provider_key_service_pb2 as pk_pb2
from agentopia.v1 import provider_key_service_pb2_grpc as pk_grpc
from prometheus_client.parser import text_string_to_metric_families

from tests.docs.conftest import DESCRIPTOR
from tests.emulators.openai_compat import OpenAICompatEmulator
from tests.support.backing import redis_url
from tests.support.edge import run_edge
from tests.support.mesh import Mesh, run_mesh
from tools.docgen.metrics_catalogue import series
from tools.openapi.descriptors import Catalog
from tools.openapi.examples import Example, load_examples, normalise, same_shape
from tools.openapi.operations import routes_of

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

# The provider secrets the examples store and rotate to, accepted by the emulated OpenAI.
EXAMPLE_SECRETS = ("sk-docs-example-0123456789abcdef", "sk-docs-example-rotated-0123456789")
RUN_LIMIT_S = 60.0  # a bound on one script, not an assertion on its speed
EXAMPLES = load_examples()
ROUTES = {route.key for route in routes_of(Catalog.load(DESCRIPTOR))}


@dataclass
class Live:
    mesh: Mesh
    url: str
    grpc_target: str

    @property
    def auth(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.mesh.admin_key}"),)

    async def fresh_ids(self) -> dict[str, str]:
        async with grpc.aio.insecure_channel(self.grpc_target) as channel:
            client = await ck_grpc.ClientKeyServiceStub(channel).CreateClientKey(
                ck_pb2.CreateClientKeyRequest(name="docs-run", role=kv_types.KEY_ROLE_CLIENT),
                metadata=self.auth,
                timeout=30,
            )
            provider = await pk_grpc.ProviderKeyServiceStub(channel).CreateProviderKey(
                pk_pb2.CreateProviderKeyRequest(
                    provider="openai", label="docs-run", secret=EXAMPLE_SECRETS[0]
                ),
                metadata=self.auth,
                timeout=30,
            )
        return {"CLIENT_KEY_ID": client.key.key_id, "PROVIDER_KEY_ID": provider.key.key_id}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def live(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Live]:
    async with contextlib.AsyncExitStack() as stack:
        upstream = await stack.enter_async_context(
            OpenAICompatEmulator("openai", api_keys=EXAMPLE_SECRETS)
        )
        env = {
            "OPENAI_BASE_URL": upstream.base_url,
            "OPENAI_API_KEY": "",
            "AGENTOPIA_LIMITS_REDIS_URL": redis_url(),
            "AGENTOPIA_LIMITS_PREFIX": f"agentopia:test:docs:{uuid.uuid4().hex}",
        }
        mesh = await stack.enter_async_context(
            run_mesh(
                tmp_path_factory.mktemp("docs-mesh"),
                env,
                topology="split",
                prometheus=("router", "provider", "keyvault", "metrics"),
            )
        )
        edge = await stack.enter_async_context(
            run_edge(
                router_port=mesh.services["router"].port,
                keyvault_port=mesh.services["keyvault"].port,
                metrics_port=mesh.services["metrics"].port,
            )
        )
        yield Live(mesh, edge.url, edge.grpc_target)


async def _run(command: list[str], env: dict[str, str], cwd: pathlib.Path) -> str:
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), RUN_LIMIT_S)
    assert process.returncode == 0, (
        f"{' '.join(command)} exited {process.returncode}:\n{err.decode()}\n{out.decode()}"
    )
    assert out.strip(), f"{' '.join(command)} printed nothing"
    return out.decode()


def _check_recorded(example: Example, output: str) -> None:
    try:
        answer = json.loads(output)
    except json.JSONDecodeError:
        recorded_text = example.folder / "response.txt"
        if not recorded_text.is_file():
            recorded_text.write_text(output)
            pytest.fail(f"recorded {recorded_text}; review it and commit it")
        assert _line_kinds(output) == _line_kinds(recorded_text.read_text()), example.name
        return
    recorded = example.folder / "response.json"
    if not recorded.is_file():
        recorded.write_text(json.dumps(normalise(answer), indent=2) + "\n")
        pytest.fail(f"recorded {recorded}; review it and commit it")
    problems = same_shape(json.loads(recorded.read_text()), answer)
    assert not problems, (
        f"{example.name}: the answer no longer has the recorded shape ({problems}); if the "
        f"change is intended, delete {recorded} and run this test again to record it"
    )


def _line_kinds(text: str) -> set[str]:
    """`data`, `event`, or a CSV header: what each kind of line starts with."""
    lines = [line for line in text.splitlines() if line]
    return {line.split(":", 1)[0] for line in lines if ":" in line} or {lines[0]}


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
async def test_the_example_runs(live: Live, example: Example) -> None:
    if example.route not in ROUTES:
        pytest.skip(f"{example.route} is not in the descriptor set yet")
    env = {
        **os.environ,
        "AGENTOPIA_URL": live.url,
        "AGENTOPIA_GRPC": live.grpc_target,
        "AGENTOPIA_KEY": live.mesh.admin_key,
    }
    output = await _run(["sh", "curl.sh"], {**env, **await live.fresh_ids()}, example.folder)
    _check_recorded(example, output)
    for script in sorted(example.folder.glob("*.py")):
        # The SDK and stub examples print JSON: one document, or one per line (streams).
        ids = await live.fresh_ids()
        printed = await _run([sys.executable, script.name], {**env, **ids}, example.folder)
        try:
            json.loads(printed)
        except json.JSONDecodeError:
            for line in printed.strip().splitlines():
                json.loads(line)


async def test_every_series_the_services_export_is_in_the_metrics_catalogue(live: Live) -> None:
    """After the examples' traffic: what a scrape shows is what docs/metrics.md lists."""
    catalogued = {item.name.removesuffix("_total") for item in series()}
    exported: set[str] = set()
    async with aiohttp.ClientSession() as http:
        for name in ("router", "provider", "keyvault", "metrics"):
            async with http.get(live.mesh.prometheus_url(name)) as reply:
                text = await reply.text()
            exported |= {
                family.name.removesuffix("_created")
                for family in text_string_to_metric_families(text)
                if family.name.startswith(("agentopia_", "gen_ai_"))
            }
    assert exported, "the services exported no agentopia_* or gen_ai_* series"
    assert not exported - catalogued, f"not in docs/metrics.md: {sorted(exported - catalogued)}"
