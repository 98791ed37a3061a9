"""One mesh + one real Envoy edge per topology and test session, on free ports, with
the three provider emulators (OpenAI, Groq, Anthropic wire formats) as its upstreams.

Every mesh of the end-to-end suite is started once per topology (`split`, then
`colocated`, docs/topologies.md), through the `topology` fixture; AGENTOPIA_TOPOLOGY
set in the environment runs the suite against that one only."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
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
from tests.support.edge import run_edge
from tests.support.mesh import Mesh, run_mesh

# Below the edge's own limit, so the router's clean 413 is what clients see.
ROUTER_BODY_LIMIT = 4 * 1024 * 1024
OPENAI_KEY = "sk-e2e-openai-upstream-key-000000000000"
GROQ_KEY = "gsk_e2e_groq_upstream_key_0000000000000"
ANTHROPIC_KEY = "sk-ant-e2e-anthropic-upstream-key-00000"


@dataclass(frozen=True)
class Upstreams:
    openai: OpenAICompatEmulator
    groq: OpenAICompatEmulator
    anthropic: AnthropicEmulator


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
    async with (
        OpenAICompatEmulator("openai", api_keys=(OPENAI_KEY,), fault_hook=fault_for) as oai,
        OpenAICompatEmulator("groq", api_keys=(GROQ_KEY,), fault_hook=fault_for) as groq,
        AnthropicEmulator(api_keys=(ANTHROPIC_KEY,), hook=anthropic_respond) as claude,
    ):
        env = {
            "AGENTOPIA_MAX_BODY_BYTES": str(ROUTER_BODY_LIMIT),
            "OPENAI_API_KEY": OPENAI_KEY,
            "OPENAI_BASE_URL": oai.base_url,
            "GROQ_API_KEY": GROQ_KEY,
            "GROQ_BASE_URL": groq.base_url,
            "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
            "ANTHROPIC_BASE_URL": claude.base_url,
        }
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
                upstreams=Upstreams(openai=oai, groq=groq, anthropic=claude),
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
