"""What is billed comes from routers: RecordUsage, on the real metrics service, takes
usage events only from a proven router, the provider service's key-health reports
but not its events, nothing from a caller without an identity; and a metrics service
that checks no identities prices every event itself instead of trusting `cost_usd`."""

from __future__ import annotations

import datetime as dt
import pathlib
from collections.abc import AsyncIterator

import grpc
import pytest
from agentopia.v1 import metrics_service_pb2 as pb
from agentopia.v1 import metrics_service_pb2_grpc as pb_grpc
from prometheus_client import CollectorRegistry

from metrics.client import pricing
from services.kernel.channels import identified
from services.kernel.errors import GatewayError
from services.kernel.identity import IdentitySettings
from tests.metrics.conftest import config_for, serving
from tests.support.identity import identity

START = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
MODEL, PROVIDER = "gpt-4o-mini", "openai"


def _event(event_id: str, cost_usd: str) -> pb.UsageEvent:
    event = pb.UsageEvent(
        event_id=event_id,
        request_id=event_id,
        model=MODEL,
        provider=PROVIDER,
        prompt_tokens=1000,
        completion_tokens=500,
        status_code=200,
        cost_usd=cost_usd,
    )
    event.time.FromDatetime(START)
    return event


@pytest.fixture
async def target(tmp_path: pathlib.Path) -> AsyncIterator[str]:
    config = config_for(f"sqlite:///{tmp_path}/metrics.db")
    async with serving(config, CollectorRegistry()) as port:
        yield f"127.0.0.1:{port}"


async def _record(
    target: str, who: str | None, request: pb.RecordUsageRequest
) -> pb.RecordUsageResponse:
    channel = grpc.aio.insecure_channel(target)
    async with identified(channel, identity(who) if who else None) as chosen:
        reply: pb.RecordUsageResponse = await pb_grpc.MetricsServiceStub(chosen).RecordUsage(
            request, timeout=10
        )
        return reply


async def test_usage_events_only_from_routers(target: str) -> None:
    events = pb.RecordUsageRequest(events=[_event("e1", "0.01")])
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _record(target, "provider", events)
    assert GatewayError.from_rpc_error(caught.value).code == "usage_from_routers_only"
    with pytest.raises(grpc.aio.AioRpcError) as anonymous:
        await _record(target, None, events)
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as keyvault:
        await _record(target, "keyvault", events)
    assert keyvault.value.code() == grpc.StatusCode.PERMISSION_DENIED
    health = pb.RecordUsageRequest(health=pb.HealthReport(reporter="provider@test"))
    assert (await _record(target, "provider", health)).stored == 0
    assert (await _record(target, "router", events)).stored == 1


async def _stored_cost(target: str) -> str:
    request = pb.GetUsageSummaryRequest()
    request.start_time.FromDatetime(START - dt.timedelta(hours=1))
    request.end_time.FromDatetime(START + dt.timedelta(hours=1))
    async with grpc.aio.insecure_channel(target) as channel:
        reply = await pb_grpc.MetricsServiceStub(channel).GetUsageSummary(request, timeout=10)
    (row,) = reply.rows
    return row.cost_usd


async def test_a_router_s_cost_is_stored_as_sent(target: str) -> None:
    await _record(target, "router", pb.RecordUsageRequest(events=[_event("e1", "0.5")]))
    assert float(await _stored_cost(target)) == 0.5


async def test_without_identities_the_service_prices_events_itself(tmp_path: pathlib.Path) -> None:
    config = config_for(f"sqlite:///{tmp_path}/metrics.db", identity=IdentitySettings("metrics"))
    async with serving(config, CollectorRegistry()) as port:
        target = f"127.0.0.1:{port}"
        claimed = _event("e1", "1000")  # a sender claiming $1000 for a small request
        await _record(target, None, pb.RecordUsageRequest(events=[claimed]))
        priced = pricing.price(
            MODEL, claimed, START, provider=PROVIDER, table=pricing.default_table()
        )
        assert isinstance(priced, pricing.Priced)
        assert float(await _stored_cost(target)) == pytest.approx(float(priced.cost_usd))
        assert float(await _stored_cost(target)) < 1
