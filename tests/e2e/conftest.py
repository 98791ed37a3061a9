"""One mesh + one real Envoy edge per topology and test session, on free ports, with
an emulator for every registered provider that makes HTTP calls as its upstreams —
derived from the provider registry and each provider's fixture manifest
(tests/fixtures/providers/<name>/provider.json), so a new provider reaches the
end-to-end suite without an edit here.

Every mesh of the end-to-end suite is started once per topology (`split`, then
`colocated`, docs/topologies.md), through the `topology` fixture; AGENTOPIA_TOPOLOGY
set in the environment runs the suite against that one only."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import openai
import pytest
import pytest_asyncio

from services.colocated.topology import TOPOLOGIES, TOPOLOGY_VAR, topology_from_env
from tests.emulators.anthropic import AnthropicEmulator
from tests.emulators.openai_compat import OpenAICompatEmulator
from tests.provider.conformance.entry_anthropic import respond as anthropic_respond
from tests.provider.conformance.entry_openai_compat import fault_for
from tests.provider.registered import Manifest, under_test
from tests.support.edge import run_edge
from tests.support.mesh import Mesh, run_mesh

# Below the edge's own limit, so the router's clean 413 is what clients see.
ROUTER_BODY_LIMIT = 4 * 1024 * 1024

Emulator = OpenAICompatEmulator | AnthropicEmulator
# One emulator per wire format (the manifest's `emulator`), speaking the
# provider's flavor of it and accepting the manifest's key.
_EMULATORS: dict[str, Callable[[Manifest], Emulator]] = {
    "openai_compat": lambda m: OpenAICompatEmulator(
        m.flavor, api_keys=(m.key,), fault_hook=fault_for
    ),
    "anthropic": lambda m: AnthropicEmulator(api_keys=(m.key,), hook=anthropic_respond),
}


class Upstreams:
    """The emulator standing in for each provider, by provider name (attribute access)."""

    def __init__(self, by_name: dict[str, Emulator]) -> None:
        self.by_name = by_name

    def __getattr__(self, name: str) -> Emulator:
        try:
            return self.by_name[name]
        except KeyError:
            raise AttributeError(name) from None


async def emulated_providers(
    stack: contextlib.AsyncExitStack,
) -> tuple[Upstreams, dict[str, str]]:
    """Start the emulators on `stack`; return them and the environment that points the
    mesh at them."""
    by_name: dict[str, Emulator] = {}
    env: dict[str, str] = {}
    for provider in under_test():
        manifest = provider.manifest
        if manifest is None or manifest.emulator is None:
            continue  # no HTTP upstream (the mock), or no fixtures (a coverage test fails)
        emulator = await stack.enter_async_context(_EMULATORS[manifest.emulator](manifest))
        by_name[provider.name] = emulator
        if provider.spec.api_key_env:
            env[provider.spec.api_key_env] = manifest.key
        if provider.spec.base_url_env:
            env[provider.spec.base_url_env] = emulator.base_url
    return Upstreams(by_name), env


@dataclass(frozen=True)
class Edge:
    url: str  # http://127.0.0.1:<port>
    grpc_target: str  # 127.0.0.1:<port>
    mesh: Mesh
    upstreams: Upstreams

    @property
    def admin_key(self) -> str:
        return self.mesh.admin_key


def _topologies() -> tuple[str, ...]:
    return (topology_from_env(),) if os.environ.get(TOPOLOGY_VAR) else TOPOLOGIES


@pytest.fixture(scope="session", params=_topologies())
def topology(request: pytest.FixtureRequest) -> str:
    """The topology of the mesh a test runs against (each test runs under each)."""
    chosen: str = request.param
    return chosen


@pytest_asyncio.fixture(scope="session")
async def edge(tmp_path_factory: pytest.TempPathFactory, topology: str) -> AsyncIterator[Edge]:
    workdir: Path = tmp_path_factory.mktemp(f"mesh-{topology}")
    async with contextlib.AsyncExitStack() as stack:
        upstreams, upstream_env = await emulated_providers(stack)
        env = {"AGENTOPIA_MAX_BODY_BYTES": str(ROUTER_BODY_LIMIT), **upstream_env}
        async with (
            run_mesh(workdir, env, topology=topology) as mesh,
            run_edge(
                router_port=mesh.services["router"].port,
                keyvault_port=mesh.services["keyvault"].port,
                metrics_port=mesh.services["metrics"].port,
            ) as running,
        ):
            yield Edge(
                url=running.url,
                grpc_target=running.grpc_target,
                mesh=mesh,
                upstreams=upstreams,
            )


@pytest.fixture
def client(edge: Edge) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{edge.url}/v1", api_key=edge.admin_key, max_retries=0) as sdk:
        yield sdk


@pytest_asyncio.fixture
async def aclient(edge: Edge) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=f"{edge.url}/v1", api_key=edge.admin_key, max_retries=0
    ) as sdk:
        yield sdk
