"""The metrics service over real gRPC: a scripted mixed workload sent through
the router's client library must come back exactly in every report."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal

import grpc
import pytest
from agentopia.v1 import metrics_service_pb2 as pb
from google.api import httpbody_pb2

from metrics.client import UsageRecorder
from metrics.client.pricing import format_usd
from tests.metrics.conftest import Running
from tests.metrics.workload import expected, workload
from tests.support.identity import identity

START = dt.datetime(2026, 5, 4, 8, 0, 0, tzinfo=dt.UTC)
SPAN = dt.timedelta(minutes=150)
GROUPS = {
    pb.USAGE_GROUP_BY_UNSPECIFIED: "",
    pb.USAGE_GROUP_BY_KEY: "key_id",
    pb.USAGE_GROUP_BY_TEAM: "team",
    pb.USAGE_GROUP_BY_MODEL: "model",
    pb.USAGE_GROUP_BY_PROVIDER: "provider",
}
BUCKETS = {
    pb.TIME_BUCKET_UNSPECIFIED: 0,
    pb.TIME_BUCKET_MINUTE: 60,
    pb.TIME_BUCKET_HOUR: 3600,
    pb.TIME_BUCKET_DAY: 86400,
}


def summary_request(group: int, bucket: int = 0, **fields: object) -> pb.GetUsageSummaryRequest:
    request = pb.GetUsageSummaryRequest(group_by=group, time_bucket=bucket, **fields)  # type: ignore[arg-type]
    request.start_time.FromDatetime(START)
    request.end_time.FromDatetime(START + SPAN)
    return request


async def all_rows(
    running: Running, request: pb.GetUsageSummaryRequest
) -> list[pb.UsageSummaryRow]:
    rows: list[pb.UsageSummaryRow] = []
    while True:
        reply = await running.stub.GetUsageSummary(request)
        rows += reply.rows
        if not reply.next_page_token:
            return rows
        request.page_token = reply.next_page_token


async def send_workload(running: Running, events: list[pb.UsageEvent]) -> UsageRecorder:
    recorder = UsageRecorder(
        running.target, max_batch=97, flush_interval=0.05, identity=identity("router")
    )
    for event in events:
        recorder.record(event)
    assert await recorder.aclose() == 0
    return recorder


@pytest.mark.parametrize(
    ("group", "bucket"), [(g, b) for g in GROUPS for b in (0, 2)] + [(2, 1), (4, 3)]
)
async def test_mixed_workload_report_matches_exactly(
    running: Running, group: int, bucket: int
) -> None:
    events = workload(900, START, SPAN)
    recorder = await send_workload(running, events)
    assert recorder.stats.sent == 900
    rows = await all_rows(running, summary_request(group, bucket, page_size=7))
    want = expected(events, GROUPS[group], BUCKETS[bucket])
    got = {
        (row.bucket_start_time.seconds if BUCKETS[bucket] else None, row.group): row for row in rows
    }
    assert set(got) == set(want)
    for key, exp in want.items():
        row = got[key]
        assert (row.requests, row.errors, row.unpriced_requests, row.streamed_requests) == (
            exp.requests,
            exp.errors,
            exp.unpriced,
            exp.streamed,
        )
        assert (
            row.prompt_tokens,
            row.completion_tokens,
            row.cached_tokens,
            row.cache_creation_tokens,
            row.reasoning_tokens,
        ) == (exp.prompt, exp.completion, exp.cached, exp.cache_creation, exp.reasoning)
        assert (row.retries, row.failovers) == (exp.retries, exp.failovers)
        assert row.cost_usd == format_usd(exp.cost)
    total = sum((Decimal(row.cost_usd) for row in rows), Decimal(0))
    assert total == sum((e.cost for e in expected(events, "").values()), Decimal(0))


async def test_record_usage_reply_counts(running: Running) -> None:
    good = workload(5, START, dt.timedelta(seconds=5))
    bad = pb.UsageEvent(event_id="bad", cost_usd="a lot")
    reply = await running.stub.RecordUsage(pb.RecordUsageRequest(events=[*good, bad]))
    assert (reply.stored, reply.duplicates, list(reply.rejected_event_ids)) == (5, 0, ["bad"])
    reply = await running.stub.RecordUsage(pb.RecordUsageRequest(events=good))
    assert (reply.stored, reply.duplicates) == (0, 5)


async def test_csv_export_has_every_row(running: Running) -> None:
    events = workload(300, START, SPAN)
    await send_workload(running, events)
    request = pb.ExportUsageCsvRequest(
        group_by=pb.USAGE_GROUP_BY_MODEL, time_bucket=pb.TIME_BUCKET_MINUTE
    )
    request.start_time.FromDatetime(START)
    request.end_time.FromDatetime(START + SPAN)
    chunks = [chunk async for chunk in running.stub.ExportUsageCsv(request)]
    assert chunks[0].content_type.startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(b"".join(c.data for c in chunks).decode())))
    want = expected(events, "model", 60)
    assert len(table) == len(want)
    assert sum(int(row["requests"]) for row in table) == 300
    by_key = {(row["bucket_start_time"], row["group"]): row for row in table}
    for (bucket, model), exp in want.items():
        stamp = dt.datetime.fromtimestamp(bucket or 0, dt.UTC).isoformat().replace("+00:00", "Z")
        assert Decimal(by_key[(stamp, model)]["cost_usd"]) == exp.cost


async def test_latency_and_overhead_reports(running: Running) -> None:
    events = workload(200, START, SPAN)
    await send_workload(running, events)
    request = pb.GetLatencyReportRequest(page_size=2)
    request.start_time.FromDatetime(START)
    request.end_time.FromDatetime(START + SPAN)
    rows: list[pb.LatencyReportRow] = []
    while True:
        reply = await running.stub.GetLatencyReport(request)
        rows += reply.rows
        if not reply.next_page_token:
            break
        request.page_token = reply.next_page_token
    assert sum(row.requests for row in rows) == 200
    for row in rows:
        assert row.error_rate == pytest.approx(row.errors / row.requests)
        assert row.latency_p50_ms <= row.latency_p95_ms <= row.latency_p99_ms
        assert sum(code.count for code in row.error_codes) == row.errors
    overhead_request = pb.GetOverheadReportRequest()
    overhead_request.start_time.FromDatetime(START)
    overhead_request.end_time.FromDatetime(START + SPAN)
    overhead = await running.stub.GetOverheadReport(overhead_request)
    assert overhead.requests == 200 and sum(b.count for b in overhead.buckets) == 200
    assert overhead.p50_ms <= overhead.p99_ms <= overhead.max_ms


@pytest.mark.parametrize(
    "request_",
    [
        pb.GetUsageSummaryRequest(page_token="garbage"),
        pb.GetUsageSummaryRequest(page_size=-1),
        pb.GetUsageSummaryRequest(group_by=99),  # type: ignore[arg-type]
    ],
)
async def test_bad_requests_are_invalid_argument(
    running: Running, request_: pb.GetUsageSummaryRequest
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await running.stub.GetUsageSummary(request_)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_reversed_range_is_invalid_argument(running: Running) -> None:
    request = pb.GetLatencyReportRequest()
    request.start_time.FromDatetime(START + SPAN)
    request.end_time.FromDatetime(START)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await running.stub.GetLatencyReport(request)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


HEALTH = pb.HealthReport(
    reporter="router-a",
    circuits=[
        pb.DeploymentCircuit(
            deployment_id="openai-gpt-4o", provider="openai", state=pb.CIRCUIT_STATE_HALF_OPEN
        )
    ],
    keys=[
        pb.ProviderKeyStatus(provider="openai", key_id="pk_1", health=pb.KEY_HEALTH_COOLING_DOWN)
    ],
)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_live_stream_counts_every_stored_event_once(running: Running) -> None:
    events = workload(120, dt.datetime.now(dt.UTC), dt.timedelta(seconds=2), seed=9)
    want = expected(events, "")[(None, "")]
    stream = running.stub.StreamLiveStats(pb.StreamLiveStatsRequest())
    first = await stream.read()  # subscribed: from here on every second is a frame
    assert isinstance(first, pb.StreamLiveStatsResponse)
    await running.stub.RecordUsage(pb.RecordUsageRequest(events=events[:60], health=HEALTH))
    await running.stub.RecordUsage(pb.RecordUsageRequest(events=events))  # 60 duplicates
    requests, cost, frames = first.stats.requests, Decimal(first.stats.cost_usd), [first.stats]
    while requests < 120:
        reply = await stream.read()
        assert isinstance(reply, pb.StreamLiveStatsResponse)
        frames.append(reply.stats)
        requests += reply.stats.requests
        cost += Decimal(reply.stats.cost_usd)
    stream.cancel()
    assert requests == 120 and cost == want.cost
    assert sum(f.prompt_tokens for f in frames) == want.prompt
    assert any(list(f.circuits) == list(HEALTH.circuits) for f in frames)
    assert any(list(f.keys) == list(HEALTH.keys) for f in frames)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_live_events_are_server_sent_events(running: Running) -> None:
    events = workload(30, dt.datetime.now(dt.UTC), dt.timedelta(seconds=1), seed=10)
    stream = running.stub.StreamLiveStatsEvents(pb.StreamLiveStatsEventsRequest())
    first = await stream.read()
    assert isinstance(first, httpbody_pb2.HttpBody)
    assert first.content_type == "text/event-stream" and first.data.startswith(b":")
    seen = -1  # the first frame proves the subscription is live before sending
    while seen < 30:
        chunk = await stream.read()
        assert isinstance(chunk, httpbody_pb2.HttpBody)
        assert chunk.content_type == "text/event-stream"
        text = chunk.data.decode()
        assert text.startswith("data: ") and text.endswith("\n\n")
        frame = json.loads(text[len("data: ") :])
        assert isinstance(frame["requests"], int) and "latency_p99_ms" in frame
        if seen < 0:
            await running.stub.RecordUsage(pb.RecordUsageRequest(events=events))
        seen = max(seen, 0) + frame["requests"]
    stream.cancel()
    assert seen == 30
