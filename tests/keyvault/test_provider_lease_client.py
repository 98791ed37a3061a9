"""keyvault.client: the provider service's lease (pick by weight, headroom and rotation;
local benching on 401/403/429; outcomes reported back) and header-shape parsing."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from agentopia.v1 import keyvault_service_pb2 as kv_pb2

from keyvault.client.headroom import headroom_from_headers, parse_reset
from keyvault.client.provider_keys import ProviderKeyLease
from tests.keyvault.conftest import SERVICE_TOKEN, Vault, admin

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
async def lease(vault: Vault) -> AsyncIterator[ProviderKeyLease]:
    client = ProviderKeyLease(
        vault.channel, service_token=SERVICE_TOKEN, watcher="t", report_interval_s=0.05
    )
    task = asyncio.create_task(client.follow())
    yield client
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _key(vault: Vault, weight: int = 1, provider: str = "mock") -> str:
    created = await vault.stub.CreateProviderKey(
        kv_pb2.CreateProviderKeyRequest(
            provider=provider, secret="sk-" + secrets.token_hex(16), weight=weight
        ),
        metadata=admin(),
    )
    return created.key.key_id


async def _until(check: Callable[[], bool | Awaitable[bool]]) -> None:
    async def loop() -> None:
        while True:
            result = check()
            if result if isinstance(result, bool) else await result:
                return
            await asyncio.sleep(0.02)

    await asyncio.wait_for(loop(), 30)


async def test_picks_follow_weights_and_skip_other_providers(
    vault: Vault, lease: ProviderKeyLease
) -> None:
    light, heavy = await _key(vault, 1), await _key(vault, 9)
    await _key(vault, 5, provider="other")
    await _until(lambda: lease.get(heavy) is not None)
    picks = collections.Counter(k.key_id for k in (lease.pick("mock") for _ in range(2000)) if k)
    assert set(picks) == {light, heavy}
    assert picks[heavy] > 4 * picks[light]
    assert lease.pick("nobody") is None
    assert lease.get(heavy).secret not in repr(lease.get(heavy))  # type: ignore[union-attr]


async def test_headroom_and_rotation_steer_traffic(vault: Vault, lease: ProviderKeyLease) -> None:
    first, second = await _key(vault), await _key(vault)
    await _until(lambda: lease.get(second) is not None)
    reset = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)).isoformat()
    lease.report(first, 200, headers={"x-ratelimit-limit-requests": "100",
                                      "x-ratelimit-remaining-requests": "1",
                                      "x-ratelimit-reset-requests": reset})  # fmt: skip
    picks = collections.Counter(k.key_id for k in (lease.pick("mock") for _ in range(2000)) if k)
    assert picks[second] > 8 * picks[first]  # 5 % headroom left on the first key

    await vault.stub.RotateProviderKey(
        kv_pb2.RotateProviderKeyRequest(key_id=second, secret="sk-" + secrets.token_hex(16)),
        metadata=admin(),
    )
    await _until(lambda: len([k for k in lease._keys.values() if k.overlapping]) == 1)
    assert second not in {lease.pick("mock").key_id for _ in range(200)}  # type: ignore[union-attr]


async def test_rejections_bench_keys_here_and_reach_the_vault(
    vault: Vault, lease: ProviderKeyLease
) -> None:
    bad, limited = await _key(vault), await _key(vault)
    await _until(lambda: lease.get(limited) is not None)
    lease.report(bad, 401)
    lease.report(limited, 429, retry_after_s=60)
    assert lease.pick("mock") is None  # both benched on this replica at once

    async def disabled() -> bool:
        got = await vault.stub.GetProviderKey(
            kv_pb2.GetProviderKeyRequest(key_id=bad), metadata=admin()
        )
        return got.key.state == kv_pb2.PROVIDER_KEY_STATE_DISABLED and got.key.health.flagged

    await _until(disabled)
    cooled = await vault.stub.GetProviderKey(
        kv_pb2.GetProviderKeyRequest(key_id=limited), metadata=admin()
    )
    assert cooled.key.state == kv_pb2.PROVIDER_KEY_STATE_COOLING_DOWN


def test_headers_are_read_by_shape() -> None:
    dashed = headroom_from_headers(
        {
            "x-ratelimit-limit-requests": "500",
            "x-ratelimit-remaining-requests": "499",
            "x-ratelimit-limit-tokens": "30000",
            "x-ratelimit-remaining-tokens": "29000",
            "x-ratelimit-reset-tokens": "6m0s",
            "content-type": "application/json",
        },
        NOW,
    )
    assert dashed is not None
    assert (dashed.limit_requests, dashed.remaining_requests) == (500, 499)
    assert (dashed.limit_tokens, dashed.remaining_tokens) == (30000, 29000)
    assert dashed.reset_time.ToDatetime(tzinfo=dt.UTC) == NOW + dt.timedelta(minutes=6)
    suffixed = headroom_from_headers(
        {
            "vendor-ratelimit-requests-limit": "50",
            "vendor-ratelimit-requests-remaining": "10",
            "vendor-ratelimit-input-tokens-remaining": "5",
            "vendor-ratelimit-requests-reset": "2026-01-01T00:00:30Z",
        },
        NOW,
    )
    assert suffixed is not None and (suffixed.limit_requests, suffixed.remaining_requests) == (
        50,
        10,
    )
    assert suffixed.limit_tokens == 0  # split input/output budgets are ignored
    assert headroom_from_headers({"retry-after": "3"}, NOW) is None
    assert parse_reset("20ms", NOW) == NOW + dt.timedelta(milliseconds=20)
    assert parse_reset("1.5", NOW) == NOW + dt.timedelta(seconds=1.5)
    assert parse_reset("soon", NOW) is None
