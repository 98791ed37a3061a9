"""Issue 4's promises with two router replicas behind the real edge: one RPM limit
and one budget for both replicas (over-admission bound 0, see keyvault/README.md),
revocation honoured by both within a second, and every bad key refused with the
right status and code."""

from __future__ import annotations

import asyncio
import collections
import time
import urllib.error
import urllib.request
from typing import Any

import aiohttp
import grpc
import orjson
import pytest
from agentopia.v1 import client_key_service_pb2 as kv_pb2
from agentopia.v1 import metrics_service_pb2 as m_pb2
from agentopia.v1 import metrics_service_pb2_grpc as m_grpc
from agentopia.v1 import openai_compat_service_pb2_grpc as oc_grpc
from google.api import httpbody_pb2
from google.protobuf import field_mask_pb2

from tests.e2e.limits.conftest import Replicated

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

PING = {"model": "mock/echo", "messages": [{"role": "user", "content": "ping"}]}


async def _post(
    session: aiohttp.ClientSession, url: str, key: str, body: dict[str, Any]
) -> tuple[int, dict[str, str], dict[str, Any]]:
    async with session.post(
        f"{url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
    ) as reply:
        return reply.status, dict(reply.headers), await reply.json(content_type=None)


async def _burst(
    replicated: Replicated, key: str, body: dict[str, Any], count: int, concurrency: int
) -> list[tuple[int, dict[str, str], dict[str, Any]]]:
    results: list[tuple[int, dict[str, str], dict[str, Any]]] = []
    remaining = count
    async with aiohttp.ClientSession() as session:

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                results.append(await _post(session, replicated.url, key, body))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return results


async def test_rpm_limit_holds_across_two_replicas(replicated: Replicated) -> None:
    secret, _ = await replicated.create_key(name="rpm60", rpm_limit=60)
    results = await _burst(replicated, secret, PING, 150, 16)
    statuses = collections.Counter(status for status, _, _ in results)
    assert statuses[200] == 60, statuses  # the bound is 0: exactly the limit
    assert statuses[429] == 90
    limited = next(body for status, _, body in results if status == 429)
    assert limited["error"]["code"] == "rate_limit_exceeded"
    assert "60 requests per minute" in limited["error"]["message"]
    headers = next(h for status, h, _ in results if status == 429)
    assert int(headers["Retry-After"]) >= 1


async def _spent_usd(replicated: Replicated, key_id: str) -> float:
    async with grpc.aio.insecure_channel(replicated.mesh.target("metrics")) as channel:
        reply = await m_grpc.MetricsServiceStub(channel).GetUsageSummary(
            m_pb2.GetUsageSummaryRequest(group_by=m_pb2.USAGE_GROUP_BY_KEY, key_id=key_id),
            metadata=(("authorization", f"Bearer {replicated.mesh.admin_key}"),),
            timeout=10,
        )
    return sum(float(row.cost_usd) for row in reply.rows if row.group == key_id)


async def test_budget_stops_spending_at_one_dollar(replicated: Replicated) -> None:
    secret, key = await replicated.create_key(
        name="budget", budget_usd="1.00", budget_period=kv_pb2.BUDGET_PERIOD_TOTAL
    )
    # About $0.05 per request at the mock's $1 per million input tokens.
    body = {
        "model": "mock/large",
        "max_tokens": 16,
        "messages": [{"role": "user", "content": "word " * 50_000}],
    }
    results = await _burst(replicated, secret, body, 40, 8)
    statuses = collections.Counter(status for status, _, _ in results)
    assert statuses[200] >= 10 and statuses[429] > 0, statuses
    refused = next(b for s, _, b in results if s == 429)
    assert refused["error"]["code"] == "budget_exceeded"
    # Usage events arrive in batches: wait until every admitted request is accounted.
    for _ in range(100):
        spent = await _spent_usd(replicated, key.key_id)
        if spent > 0.9:
            break
        await asyncio.sleep(0.2)
    assert 0.9 < spent <= 1.00, spent


def _router_call(port: int, key: str) -> grpc.StatusCode:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = oc_grpc.OpenAICompatServiceStub(channel).ChatCompletions(
            httpbody_pb2.HttpBody(content_type="application/json", data=orjson.dumps(PING)),
            metadata=(("authorization", f"Bearer {key}"),),
            timeout=10,
        )
        try:
            list(call)
        except grpc.RpcError as error:
            return error.code()  # type: ignore[attr-defined,no-any-return]
    return grpc.StatusCode.OK


async def test_revocation_reaches_both_replicas_within_a_second(replicated: Replicated) -> None:
    secret, key = await replicated.create_key(name="revoke-me")
    for port in replicated.router_ports:
        assert await asyncio.to_thread(_router_call, port, secret) is grpc.StatusCode.OK
    channel, keyvault = replicated.keyvault()
    async with channel:
        await keyvault.RevokeClientKey(
            kv_pb2.RevokeClientKeyRequest(key_id=key.key_id),
            metadata=(("authorization", f"Bearer {replicated.mesh.admin_key}"),),
            timeout=10,
        )
    revoked_at = time.monotonic()
    refused_after: dict[int, float] = {}
    while len(refused_after) < 2 and time.monotonic() - revoked_at < 5:
        for port in replicated.router_ports:
            if port not in refused_after:
                code = await asyncio.to_thread(_router_call, port, secret)
                if code is grpc.StatusCode.UNAUTHENTICATED:
                    refused_after[port] = time.monotonic() - revoked_at
        await asyncio.sleep(0.02)
    assert sorted(refused_after) == sorted(replicated.router_ports)
    assert max(refused_after.values()) < 1.0, refused_after


def _get(url: str, key: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, orjson.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, orjson.loads(error.read())


async def test_every_bad_key_gets_its_status_and_code(replicated: Replicated) -> None:
    scoped, _ = await replicated.create_key(name="scoped", allowed_models=["mock/echo"])
    expiring, expiring_key = await replicated.create_key(name="expiring")
    channel, keyvault = replicated.keyvault()
    async with channel:
        expired = kv_pb2.ClientKey(key_id=expiring_key.key_id)
        expired.expire_time.FromSeconds(int(time.time()) - 60)
        await keyvault.UpdateClientKey(
            kv_pb2.UpdateClientKeyRequest(
                key=expired, update_mask=field_mask_pb2.FieldMask(paths=["expire_time"])
            ),
            metadata=(("authorization", f"Bearer {replicated.mesh.admin_key}"),),
            timeout=10,
        )
    await asyncio.sleep(0.5)  # the snapshot push; revocation is tested separately
    async with aiohttp.ClientSession() as session:
        cases = {
            "sk-agp-not-a-key-at-all": (401, "invalid_api_key"),
            expiring: (401, "expired_api_key"),
        }
        for key, expected in cases.items():
            status, _, body = await _post(session, replicated.url, key, PING)
            assert (status, body["error"]["code"]) == expected
        async with session.post(f"{replicated.url}/v1/chat/completions", json=PING) as reply:
            assert reply.status == 401
            assert (await reply.json())["error"]["code"] == "missing_api_key"
        async with session.post(
            f"{replicated.url}/v1/chat/completions",
            json=PING,
            headers={"Authorization": "Basic dXNlcjpwYXNz"},
        ) as reply:
            assert reply.status == 401
            assert (await reply.json())["error"]["code"] == "malformed_api_key"
        status, _, body = await _post(
            session, replicated.url, scoped, {**PING, "model": "mock/large"}
        )
        assert (status, body["error"]["code"]) == (403, "model_not_allowed")
        status, _, _ = await _post(session, replicated.url, scoped, PING)
        assert status == 200
    status, body = await asyncio.to_thread(
        _get, f"{replicated.url}/agentopia/v1/client-keys", scoped
    )
    assert status == 403
