"""The colocated process, composed in-process between a real key vault and the OpenAI
emulator: the router answers through the in-process ProviderService contract (its
provider target refuses connections), the same port serves ProviderService to the
key vault, health covers every hosted service, and one /metrics holds both
services' instruments."""

from __future__ import annotations

import asyncio
import urllib.request
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
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from tests.colocated.world import ADMIN, World, colocated_world

HOSTED = (
    "agentopia.v1.OpenAICompatService",
    "agentopia.v1.InferenceService",
    "agentopia.v1.RoutingAdminService",
    "agentopia.v1.ProviderService",
)
SAFETY_S = 30.0  # a bound on each call, never an assertion on timing


@pytest_asyncio.fixture(loop_scope="session")
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with colocated_world(tmp_path) as running:
        yield running


async def _chat(world: World, model: str, *, stream: bool) -> list[bytes]:
    body = {"model": model, "stream": stream, "messages": [{"role": "user", "content": "Hi"}]}
    call = oc_grpc.OpenAICompatServiceStub(world.channel).ChatCompletions(
        httpbody_pb2.HttpBody(content_type="application/json", data=orjson.dumps(body)),
        metadata=ADMIN,
        timeout=SAFETY_S,
    )
    return [message.data async for message in call]


def _streamed_text(parts: list[bytes]) -> str:
    events = b"".join(parts).split(b"\n\n")
    payloads = [event.removeprefix(b"data: ") for event in events if event]
    assert payloads[-1] == b"[DONE]"
    chunks = [orjson.loads(payload) for payload in payloads[:-1]]
    return "".join(
        choice["delta"].get("content") or "" for chunk in chunks for choice in chunk["choices"]
    )


@pytest.mark.parametrize("model", ["mock/echo", "openai/gpt-4o-mini"])
async def test_chat_streamed_or_not_goes_through_the_in_process_contract(
    world: World, model: str
) -> None:
    whole = orjson.loads(b"".join(await _chat(world, model, stream=False)))
    text = whole["choices"][0]["message"]["content"]
    assert text
    assert _streamed_text(await _chat(world, model, stream=True)) == text


async def test_the_leased_key_carries_the_call_upstream(world: World) -> None:
    await _chat(world, "openai/gpt-4o-mini", stream=False)
    assert world.emulator.requests[-1].headers["authorization"] == f"Bearer {world.secret}"


async def test_provider_service_is_served_on_the_same_port(world: World) -> None:
    reply = await pv_grpc.ProviderServiceStub(world.channel).ListProviders(
        pv_pb2.ListProvidersRequest(), timeout=SAFETY_S
    )
    configured = {provider.name: provider.configured for provider in reply.providers}
    assert configured["mock"] is True
    assert configured["openai"] is True  # by the leased key alone: no OPENAI_API_KEY


async def test_the_key_vault_validates_provider_keys_through_it(world: World) -> None:
    request = pk_pb2.ValidateProviderKeyRequest(key_id=world.key_id, model="gpt-4o-mini")
    valid = await world.vault.ValidateProviderKey(request, metadata=ADMIN, timeout=SAFETY_S)
    assert (valid.valid, valid.result) == (True, "valid")
    world.emulator.api_keys.discard(world.secret)  # the upstream revokes it
    rejected = await world.vault.ValidateProviderKey(request, metadata=ADMIN, timeout=SAFETY_S)
    assert (rejected.valid, rejected.result, rejected.upstream_status) == (False, "invalid", 401)
    assert rejected.key.state == pk_pb2.PROVIDER_KEY_STATE_DISABLED


async def test_health_reports_every_hosted_service(world: World) -> None:
    health = health_pb2_grpc.HealthStub(world.channel)
    for service in ("", *HOSTED):
        reply = await health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING, service


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        text: str = reply.read().decode()
    return text


async def test_one_metrics_endpoint_holds_both_services_instruments(world: World) -> None:
    await _chat(world, "openai/gpt-4o-mini", stream=False)
    text = await asyncio.to_thread(_scrape, world.prometheus_port)
    families = [family.name for family in text_string_to_metric_families(text)]
    assert len(families) == len(set(families))  # each instrument registered once
    assert "gen_ai_client_operation_duration_seconds" in families  # the router's
    health = next(
        family
        for family in text_string_to_metric_families(text)
        if family.name == "agentopia_provider_key_health"  # the provider service's
    )
    assert [(s.labels["key_id"], s.value) for s in health.samples] == [(world.key_id, 1.0)]


async def test_a_provider_error_keeps_its_status_across_the_in_process_hop(world: World) -> None:
    body = {
        "model": "mock/echo",
        "messages": [{"role": "user", "content": "fail"}],
        "mock": {"fault_status": 400},
    }
    call = oc_grpc.OpenAICompatServiceStub(world.channel).ChatCompletions(
        httpbody_pb2.HttpBody(content_type="application/json", data=orjson.dumps(body)),
        metadata=ADMIN,
        timeout=SAFETY_S,
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call.read()
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    trailers = {str(key): value for key, value in caught.value.trailing_metadata() or ()}
    assert trailers["x-agentopia-http-status"] == "400"
