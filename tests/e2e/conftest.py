"""One mesh + one real Envoy edge per test session, on free ports."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import openai
import pytest
import pytest_asyncio

from gateway.testing import run_edge
from tests.support.mesh import Mesh, run_mesh


# Below the edge's own limit, so the router's clean 413 is what clients see.
ROUTER_BODY_LIMIT = 4 * 1024 * 1024


@dataclass(frozen=True)
class Edge:
    url: str  # http://127.0.0.1:<port>
    grpc_target: str  # 127.0.0.1:<port>
    mesh: Mesh

    @property
    def admin_key(self) -> str:
        return self.mesh.admin_key


@pytest_asyncio.fixture(scope="session")
async def edge(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Edge]:
    workdir: Path = tmp_path_factory.mktemp("mesh")
    async with (
        run_mesh(workdir, {"AGENTOPIA_MAX_BODY_BYTES": str(ROUTER_BODY_LIMIT)}) as mesh,
        run_edge(
            router_port=mesh.services["router"].port,
            keyvault_port=mesh.services["keyvault"].port,
            metrics_port=mesh.services["metrics"].port,
        ) as running,
    ):
        yield Edge(url=running.url, grpc_target=running.grpc_target, mesh=mesh)


@pytest.fixture
def client(edge: Edge) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{edge.url}/v1", api_key=edge.admin_key, max_retries=0) as sdk:
        yield sdk
