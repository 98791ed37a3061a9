"""The colocated process with workload identities enforced: the in-process hop to its
provider side needs no token, yet it presents its identity (`colocated`) to the key
vault — leasing provider keys — and the key vault presents its own when it validates
a key through the process's ProviderService."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import orjson
import pytest
import pytest_asyncio
from agentopia.v1 import openai_compat_service_pb2_grpc as oc_grpc
from agentopia.v1 import provider_key_service_pb2 as pk_pb2
from agentopia.v1 import provider_service_pb2 as pv_pb2
from agentopia.v1 import provider_service_pb2_grpc as pv_grpc
from google.api import httpbody_pb2

from tests.colocated.world import ADMIN, World, colocated_world

SAFETY_S = 30.0  # a bound on each call, never an assertion on timing


@pytest_asyncio.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with colocated_world(tmp_path, identities=True) as running:
        yield running


async def test_inference_goes_in_process_with_the_leased_key(world: World) -> None:
    body = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}
    call = oc_grpc.OpenAICompatServiceStub(world.channel).ChatCompletions(
        httpbody_pb2.HttpBody(content_type="application/json", data=orjson.dumps(body)),
        metadata=ADMIN,
        timeout=SAFETY_S,
    )
    (reply,) = [message.data async for message in call]
    assert orjson.loads(reply)["choices"][0]["message"]["content"]
    # The key came from the lease, which the key vault gave only to a proven workload.
    assert world.emulator.requests[-1].headers["authorization"] == f"Bearer {world.secret}"


async def test_the_key_vault_validates_through_the_process(world: World) -> None:
    request = pk_pb2.ValidateProviderKeyRequest(key_id=world.key_id, model="gpt-4o-mini")
    valid = await world.vault.ValidateProviderKey(request, metadata=ADMIN, timeout=SAFETY_S)
    assert (valid.valid, valid.result) == (True, "valid")


async def test_its_provider_service_refuses_callers_without_identity(world: World) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await pv_grpc.ProviderServiceStub(world.channel).ListProviders(
            pv_pb2.ListProvidersRequest(), timeout=SAFETY_S
        )
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
