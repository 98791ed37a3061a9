"""Provider keys leased from a real key vault (in-process, SQLite), used by the real
provider service against the OpenAI emulator: weights, 401/403 and 429 handling,
rotation under load, pools, the environment fallback, and no secret in the logs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from agentopia.v1 import provider_key_service_pb2 as kv_pb2
from agentopia.v1 import provider_service_pb2 as pv_pb2
from google.protobuf import duration_pb2

from services.provider.adapters.openai import PROVIDER as OPENAI
from tests.emulators.openai_compat import Fault, OpenAICompatEmulator
from tests.keyvault.running import start
from tests.provider.core_support import invocation, provider_service
from tests.provider.key_support import (
    ADMIN,
    BODY,
    MODEL,
    SERVICE_TOKEN,
    KeyWorld,
    grpc_error,
    key_world,
    until,
    vault_config,
)
from tests.support.ports import refused_port

DISABLED = kv_pb2.PROVIDER_KEY_STATE_DISABLED
COOLING = kv_pb2.PROVIDER_KEY_STATE_COOLING_DOWN
ACTIVE = kv_pb2.PROVIDER_KEY_STATE_ACTIVE


@pytest.fixture
async def world(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> AsyncIterator[KeyWorld]:
    caplog.set_level(logging.DEBUG)
    async with key_world(tmp_path) as running:
        yield running
    # No secret (provider key or service token) in any log record, at DEBUG.
    for when in ("setup", "call"):
        for record in caplog.get_records(when):
            text = record.getMessage() + repr(record.__dict__)
            for secret in (*running.created, SERVICE_TOKEN):
                assert secret not in text, record.getMessage()


async def test_traffic_follows_the_weights(world: KeyWorld) -> None:
    heavy = await world.add_key(weight=3)
    light = await world.add_key(weight=1)
    heavy_secret, light_secret = world.created
    for _ in range(200):
        await world.chat()
    used = world.used()
    assert set(used) == {heavy_secret, light_secret}
    assert abs(used[heavy_secret] - 150) <= 10, used  # smooth weighted round robin
    # Every outcome reaches the vault (batched, off the request path).

    async def counted() -> bool:
        totals = [await world.usage(k) for k in (heavy, light)]
        return sum(t.requests for t in totals) == 200 and totals[0].prompt_tokens > 0

    await until(counted)
    assert (await world.key(heavy)).health.headroom.limit_requests == 10000


async def test_a_rejected_key_is_disabled_and_traffic_moves_on(world: KeyWorld) -> None:
    good = await world.add_key()
    bad = await world.add_key(accept=False)  # the upstream answers 401 for it
    good_secret, bad_secret = world.created
    for _ in range(20):
        reply = await world.chat()  # every call succeeds: the 401 is retried on `good`
        assert reply.response_json
    used = world.used()
    assert used[bad_secret] == 1 and used[good_secret] == 20
    assert world.slot(bad) is not None and world.slot(good) is not None

    async def flagged() -> bool:
        key = await world.key(bad)
        return key.state == DISABLED and key.health.flagged

    await until(flagged)
    listed = await world.kv.ListProviderKeys(
        kv_pb2.ListProviderKeysRequest(provider="openai"), metadata=ADMIN
    )
    assert {k.key_id: k.health.flagged for k in listed.keys} == {good: False, bad: True}


async def test_a_streamed_call_is_retried_on_another_key_after_a_401(world: KeyWorld) -> None:
    first, second = await world.add_key(), await world.add_key()
    world.emulator.enqueue(Fault(status=401))
    items = await world.stream()
    # Chunks that arrive together travel in one message: count the events.
    assert items[-1].HasField("usage") and sum(m.events.count(b"data: ") for m in items) > 1
    assert len(world.emulator.requests) == 2
    assert world.secret_of(0) != world.secret_of(1)
    rejected = first if world.secret_of(0) == world.created[0] else second
    await until(lambda: _state_is(world, rejected, DISABLED))


async def test_the_last_key_of_a_pool_fails_once_then_the_pool_is_unusable(
    world: KeyWorld,
) -> None:
    only = await world.add_key(accept=False)
    with pytest.raises(grpc.aio.AioRpcError) as rejected:
        await world.chat()
    assert grpc_error(rejected.value).code == "provider_auth_failed"
    with pytest.raises(grpc.aio.AioRpcError) as unusable:
        await world.chat()
    error = grpc_error(unusable.value)
    assert error.code == "provider_not_configured" and "disabled" in error.message
    assert len(world.emulator.requests) == 1  # the bad key was not used again
    await until(lambda: _state_is(world, only, DISABLED))
    # An explicit key id (what ValidateProviderKey sends) still reaches a disabled key.
    with pytest.raises(grpc.aio.AioRpcError):
        await world.chat(credential_id=only)
    assert len(world.emulator.requests) == 2


async def test_validate_provider_key_goes_through_the_leased_key(world: KeyWorld) -> None:
    good = await world.add_key()
    bad = await world.add_key(accept=False)
    for key_id, valid in ((good, True), (bad, False)):
        reply = await world.kv.ValidateProviderKey(
            kv_pb2.ValidateProviderKeyRequest(key_id=key_id, model="gpt-4o-mini"),
            metadata=ADMIN,
        )
        assert reply.valid is valid, reply.message
    assert world.used() == {world.created[0]: 1, world.created[1]: 1}  # no retry on another key
    assert await _state_is(world, bad, DISABLED)


async def test_a_rate_limited_key_cools_down_then_comes_back(world: KeyWorld) -> None:
    await world.add_key()
    await world.add_key()
    world.emulator.enqueue(Fault(status=429, retry_after="3"))
    with pytest.raises(grpc.aio.AioRpcError) as limited:
        await world.chat()  # a 429 is not retried here: the router backs off or fails over
    assert grpc_error(limited.value).code == "upstream_rate_limited"
    limited_secret = world.secret_of(0)
    pool = world.keys.index.pool("openai", "")
    limited_id = next(k.key_id for k in pool if k.credential.secret == limited_secret)
    await until(lambda: _state_is(world, limited_id, COOLING))
    mark = len(world.emulator.requests)
    for _ in range(5):
        await world.chat()
    assert limited_secret not in world.used(mark)  # benched here at once
    # After Retry-After the vault's sweeper makes it active again and it takes traffic.
    await until(lambda: _state_is(world, limited_id, ACTIVE))

    async def back() -> bool:
        mark = len(world.emulator.requests)
        await world.chat()
        return limited_secret in world.used(mark)

    await until(back)


async def test_rotation_under_load_loses_no_request(world: KeyWorld) -> None:
    old = await world.add_key()
    old_secret = world.created[0]
    failures: list[BaseException] = []
    done = 0
    stop = asyncio.Event()

    async def worker() -> None:
        nonlocal done
        while not stop.is_set():
            try:
                await world.chat()
                done += 1
            except grpc.aio.AioRpcError as error:
                failures.append(error)

    workers = [asyncio.create_task(worker()) for _ in range(4)]
    try:
        await until(lambda: done >= 20)
        new_secret = world.new_secret()  # the emulator now accepts both (the overlap)
        overlap = duration_pb2.Duration(seconds=1)
        await world.kv.RotateProviderKey(
            kv_pb2.RotateProviderKeyRequest(key_id=old, secret=new_secret, overlap=overlap),
            metadata=ADMIN,
        )
        await until(lambda: new_secret in world.used())
        world.emulator.api_keys.discard(old_secret)  # then only the new one
        mark = done
        await until(lambda: world.slot(old) is None)  # retired after the overlap
        await until(lambda: done >= mark + 40)
    finally:
        stop.set()
        await asyncio.gather(*workers)
    assert failures == []
    assert (await world.key(old)).state == kv_pb2.PROVIDER_KEY_STATE_RETIRED


async def test_pools_explicit_ids_and_the_environment_key(tmp_path: Path) -> None:
    env_key = "sk-proj-environment-" + "e" * 20
    env = {"OPENAI_API_KEY": env_key}
    async with key_world(tmp_path, env, api_keys=(env_key,)) as world:
        # No key in the vault for openai: the environment's key serves.
        await world.chat()
        assert world.secret_of(-1) == env_key
        listed = await world.service.stub.ListProviders(pv_pb2.ListProvidersRequest())
        assert {p.name: p.configured for p in listed.providers} == {"openai": True}
        # Once the vault holds a key, the environment's key serves only when asked for.
        plain = await world.add_key()
        team = await world.add_key(label="team-a")
        for _ in range(4):
            await world.chat(credential_id="team-a")
        assert set(world.used(1)) == {world.created[1]}
        mark = len(world.emulator.requests)
        for _ in range(4):
            await world.chat()
        assert set(world.used(mark)) == set(world.created)  # labelled keys serve "" too
        await world.chat(credential_id=plain)
        assert world.secret_of(-1) == world.created[0]
        await world.chat(credential_id="env:OPENAI_API_KEY")
        assert world.secret_of(-1) == env_key
        for unknown in ("team-b", "pkey_nobody"):
            with pytest.raises(grpc.aio.AioRpcError) as missing:
                await world.chat(credential_id=unknown)
            assert grpc_error(missing.value).code == "credential_not_found"
        assert world.slot(team) is not None


async def test_the_last_lease_serves_while_the_vault_is_away(tmp_path: Path) -> None:
    async with key_world(tmp_path) as world:
        key_id = await world.add_key()
        port = world.vault.port
        await world.vault.stop()
        for _ in range(5):
            await world.chat()  # served from the last lease; outcomes wait in the buffer
        assert world.keys.reporter.pending == 5
        world.vault = await start(vault_config(tmp_path), f"127.0.0.1:{port}")

        async def delivered() -> bool:
            return (await world.usage(key_id)).requests == 5

        await until(delivered)


async def _state_is(world: KeyWorld, key_id: str, state: int) -> bool:
    return (await world.key(key_id)).state == state


async def test_before_the_first_lease_only_the_environment_key_serves() -> None:
    env_key = "sk-proj-environment-" + "f" * 20
    with refused_port() as nobody:  # no key vault there
        await _environment_key_only(env_key, nobody)


async def _environment_key_only(env_key: str, nobody: int) -> None:
    async with OpenAICompatEmulator("openai", api_keys=(env_key,)) as emulator:
        env = {
            "OPENAI_BASE_URL": emulator.base_url,
            "AGENTOPIA_KEYVAULT_TARGET": f"127.0.0.1:{nobody}",
            "AGENTOPIA_KEYVAULT_SERVICE_TOKEN": SERVICE_TOKEN,
            "AGENTOPIA_PROVIDER_LEASE_WAIT_S": "0",
        }
        async with provider_service([OPENAI], env) as service:
            request = pv_pb2.GenerateRequest(invocation=invocation("openai", BODY, model=MODEL))
            with pytest.raises(grpc.aio.AioRpcError) as starting:
                await service.stub.Generate(request)
            assert grpc_error(starting.value).code == "provider_service_starting"
        async with provider_service([OPENAI], {**env, "OPENAI_API_KEY": env_key}) as service:
            await service.stub.Generate(request)
            assert emulator.requests[-1].headers["authorization"] == f"Bearer {env_key}"
