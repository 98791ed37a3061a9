"""Two router replicas behind one real Envoy edge, sharing a Redis limiter (a key
prefix of their own per run), in front of one key vault, metrics and provider."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import pytest
import pytest_asyncio
from agentopia.v1 import client_key_service_pb2 as kv_pb2
from agentopia.v1 import client_key_service_pb2_grpc as kv_grpc
from agentopia.v1 import keyvault_types_pb2 as kv_types

from tests.support.backing import redis_url
from tests.support.edge import run_edge
from tests.support.mesh import Mesh, ServiceProcess, run_mesh


@dataclass
class Replicated:
    mesh: Mesh
    second_router: ServiceProcess
    url: str  # the edge

    @property
    def router_ports(self) -> tuple[int, int]:
        return self.mesh.services["router"].port, self.second_router.port

    async def create_key(self, **fields: object) -> tuple[str, kv_pb2.ClientKey]:
        async with grpc.aio.insecure_channel(self.mesh.target("keyvault")) as channel:
            reply = await kv_grpc.ClientKeyServiceStub(channel).CreateClientKey(
                kv_pb2.CreateClientKeyRequest(role=kv_types.KEY_ROLE_CLIENT, **fields),  # type: ignore[arg-type]
                metadata=(("authorization", f"Bearer {self.mesh.admin_key}"),),
                timeout=10,
            )
        return reply.secret, reply.key

    def keyvault(self) -> tuple[grpc.aio.Channel, kv_grpc.ClientKeyServiceAsyncStub]:
        channel = grpc.aio.insecure_channel(self.mesh.target("keyvault"))
        return channel, kv_grpc.ClientKeyServiceStub(channel)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def replicated(
    tmp_path_factory: pytest.TempPathFactory, topology: str
) -> AsyncIterator[Replicated]:
    workdir = tmp_path_factory.mktemp(f"replicas-{topology}")
    env = {
        "AGENTOPIA_LIMITS_REDIS_URL": redis_url(),
        "AGENTOPIA_LIMITS_PREFIX": f"agentopia:test:{uuid.uuid4().hex}",
        "AGENTOPIA_HEALTH_CHECK_INTERVAL_S": "0",
    }
    async with run_mesh(workdir, env, topology=topology) as mesh:
        second = await mesh.start_router("router2")
        try:
            async with run_edge(
                router_port=mesh.services["router"].port,
                router_replica_ports=(second.port,),
                keyvault_port=mesh.services["keyvault"].port,
                metrics_port=mesh.services["metrics"].port,
            ) as edge:
                yield Replicated(mesh=mesh, second_router=second, url=edge.url)
        finally:
            await second.stop()
