"""Runtime registry edits reach every router replica: two router processes follow one
key vault; an admin edit made through router 1's RoutingAdminService is stored in the
key vault (compare-and-set) and applied by router 2 without a restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import orjson
import pytest
import pytest_asyncio
from agentopia.v1 import openai_compat_service_pb2 as oc_pb2
from agentopia.v1 import openai_compat_service_pb2_grpc as oc_grpc
from agentopia.v1 import routing_admin_service_pb2 as ra_pb2
from agentopia.v1 import routing_admin_service_pb2_grpc as ra_grpc
from google.api import httpbody_pb2

from tests.support.mesh import Mesh, ServiceProcess, run_mesh

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

REGISTRY = """\
schema_version = 1
version = 1

[providers.mock]
timeout_s = 10.0

[[models]]
id = "mock/e2e-a"
provider = "mock"
upstream_id = "e2e-a"
capabilities = ["chat", "streaming"]
context_window = 8192
max_output_tokens = 1024
auto = false

[aliases.e2e-old]
chain = ["mock/e2e-a"]
"""
NEW_ALIAS = "e2e-new"
PROPAGATION_BOUND_S = 60.0  # a bound on waiting, not an assertion on timing


@dataclass
class TwoRouters:
    mesh: Mesh
    second: ServiceProcess
    first_channel: grpc.aio.Channel
    second_channel: grpc.aio.Channel

    @property
    def auth(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.mesh.admin_key}"),)

    def admin(self, channel: grpc.aio.Channel) -> ra_grpc.RoutingAdminServiceAsyncStub:
        return ra_grpc.RoutingAdminServiceStub(channel)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def routers(
    tmp_path_factory: pytest.TempPathFactory, topology: str
) -> AsyncIterator[TwoRouters]:
    workdir = tmp_path_factory.mktemp(f"routing-admin-{topology}")
    models = workdir / "models.toml"
    models.write_text(REGISTRY, encoding="utf-8")
    env = {"AGENTOPIA_MODELS_FILE": str(models), "AGENTOPIA_HEALTH_CHECK_INTERVAL_S": "0"}
    async with run_mesh(workdir, env, topology=topology) as mesh:
        second = await mesh.start_router("router2")
        first_channel = grpc.aio.insecure_channel(mesh.target("router"))
        second_channel = grpc.aio.insecure_channel(f"127.0.0.1:{second.port}")
        try:
            yield TwoRouters(mesh, second, first_channel, second_channel)
        finally:
            await first_channel.close(None)
            await second_channel.close(None)
            await second.stop()


async def _chat(routers: TwoRouters, channel: grpc.aio.Channel, model: str) -> dict[str, object]:
    body = {"model": model, "messages": [{"role": "user", "content": "ping"}]}
    call = oc_grpc.OpenAICompatServiceStub(channel).ChatCompletions(
        httpbody_pb2.HttpBody(content_type="application/json", data=orjson.dumps(body)),
        metadata=routers.auth,
        timeout=30,
    )
    parts = [message.data async for message in call]
    reply: dict[str, object] = orjson.loads(b"".join(parts))
    return reply


async def _until_model_known(routers: TwoRouters, channel: grpc.aio.Channel, model: str) -> None:
    stub = oc_grpc.OpenAICompatServiceStub(channel)

    async def poll() -> None:
        while True:
            try:
                request = oc_pb2.ModelRequest(model=model)
                await stub.Model(request, metadata=routers.auth, timeout=10)
                return
            except grpc.aio.AioRpcError as error:
                assert error.code() == grpc.StatusCode.NOT_FOUND, error
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), PROPAGATION_BOUND_S)


async def test_an_edit_on_router_1_reaches_router_2(routers: TwoRouters) -> None:
    first = routers.admin(routers.first_channel)
    current = await first.GetRoutingConfig(ra_pb2.GetRoutingConfigRequest(), metadata=routers.auth)
    assert current.config.version == 1 and current.config.toml == REGISTRY

    edited = REGISTRY + f'\n[aliases.{NEW_ALIAS}]\nchain = ["mock/e2e-a"]\n'
    valid = await first.ValidateRoutingConfig(
        ra_pb2.ValidateRoutingConfigRequest(toml=edited), metadata=routers.auth
    )
    assert (valid.valid, valid.models, valid.aliases) == (True, 1, 2)
    broken = await first.ValidateRoutingConfig(
        ra_pb2.ValidateRoutingConfigRequest(toml=REGISTRY + '\n[aliases.bad]\nchain = ["nope"]\n'),
        metadata=routers.auth,
    )
    assert not broken.valid and "aliases.bad.chain" in broken.error

    # Router 2 does not know the alias yet.
    second = oc_grpc.OpenAICompatServiceStub(routers.second_channel)
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await second.Model(oc_pb2.ModelRequest(model=NEW_ALIAS), metadata=routers.auth, timeout=10)
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND

    updated = await first.UpdateRoutingConfig(
        ra_pb2.UpdateRoutingConfigRequest(toml=edited, expected_version=1), metadata=routers.auth
    )
    assert updated.config.version == 2 and updated.config.updated_by.startswith("key_")

    await _until_model_known(routers, routers.second_channel, NEW_ALIAS)
    reply = await _chat(routers, routers.second_channel, NEW_ALIAS)
    assert reply["object"] == "chat.completion"
    on_second = await routers.admin(routers.second_channel).GetRoutingConfig(
        ra_pb2.GetRoutingConfigRequest(), metadata=routers.auth
    )
    assert on_second.config.version == 2 and on_second.config.toml == edited
    assert on_second.config.updated_by == updated.config.updated_by

    # An edit based on the old version is refused: someone else changed it meanwhile.
    with pytest.raises(grpc.aio.AioRpcError) as stale:
        await first.UpdateRoutingConfig(
            ra_pb2.UpdateRoutingConfigRequest(toml=REGISTRY, expected_version=1),
            metadata=routers.auth,
        )
    assert stale.value.code() == grpc.StatusCode.ABORTED
    assert "version 2" in (stale.value.details() or "")

    health = await first.ListDeploymentHealth(
        ra_pb2.ListDeploymentHealthRequest(), metadata=routers.auth
    )
    assert health.registry_version == 2
    assert [d.deployment_id for d in health.deployments] == ["mock/e2e-a"]
    assert {d.circuit for d in health.deployments} <= {"closed", "open", "half_open"}
    assert health.deployments[0].model == "mock/e2e-a"
