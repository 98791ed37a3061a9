"""A mesh with the routing test registry, both provider emulators and the router's
Prometheus endpoint, in front of the real Envoy edge (one per module: the outage
test stops an emulator)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import openai
import pytest
import pytest_asyncio

from tests.emulators.anthropic import AnthropicEmulator
from tests.emulators.openai_compat import OpenAICompatEmulator
from tests.provider.conformance.entry_anthropic import respond as anthropic_respond
from tests.support.edge import run_edge
from tests.support.mesh import Mesh, run_mesh

MODELS_FILE = Path(__file__).with_name("models.toml")
PRICES_FILE = Path(__file__).with_name("prices.toml")
OPENAI_KEY = "sk-e2e-routing-openai-key-0000000000000"
ANTHROPIC_KEY = "sk-ant-e2e-routing-anthropic-key-000000"


@dataclass
class RoutingMesh:
    mesh: Mesh
    url: str
    prometheus_url: str
    openai: OpenAICompatEmulator
    anthropic: AnthropicEmulator

    def client(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            base_url=f"{self.url}/v1", api_key=self.mesh.admin_key, max_retries=0
        )


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def routing(
    tmp_path_factory: pytest.TempPathFactory, topology: str
) -> AsyncIterator[RoutingMesh]:
    workdir = tmp_path_factory.mktemp(f"routing-{topology}")
    async with (
        OpenAICompatEmulator("openai", api_keys=(OPENAI_KEY,)) as oai,
        AnthropicEmulator(api_keys=(ANTHROPIC_KEY,), hook=anthropic_respond) as claude,
    ):
        env = {
            "AGENTOPIA_MODELS_FILE": str(MODELS_FILE),
            "AGENTOPIA_PRICES_FILE": str(PRICES_FILE),
            "OPENAI_API_KEY": OPENAI_KEY,
            "OPENAI_BASE_URL": oai.base_url,
            "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
            "ANTHROPIC_BASE_URL": claude.base_url,
            "AGENTOPIA_UPSTREAM_CONNECT_TIMEOUT_S": "1",
        }
        async with (
            run_mesh(workdir, env, prometheus={"router"}, topology=topology) as mesh,
            run_edge(
                router_port=mesh.services["router"].port,
                keyvault_port=mesh.services["keyvault"].port,
                metrics_port=mesh.services["metrics"].port,
            ) as edge,
        ):
            yield RoutingMesh(
                mesh=mesh,
                url=edge.url,
                prometheus_url=mesh.prometheus_url("router"),
                openai=oai,
                anthropic=claude,
            )
