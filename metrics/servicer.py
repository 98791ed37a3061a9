"""MetricsService: proto in, domain calls, proto out. Database work runs in
worker threads so the event loop never waits on I/O."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import grpc
import sqlalchemy as sa
from agentopia.v1 import metrics_service_pb2 as pb
from agentopia.v1 import metrics_service_pb2_grpc as pb_grpc
from google.api import httpbody_pb2
from google.protobuf import json_format

from keyvault.client.keycache import KeyCache, bearer_token, require_role
from metrics import errors
from metrics.client import pricing
from metrics.instruments import MetricsServiceInstruments
from metrics.live import LiveHub
from metrics.reports_pb import (
    csv_chunks,
    latency_query,
    latency_response,
    overhead_query,
    overhead_response,
    usage_query,
    usage_response,
)
from metrics.storage.ingest import Row, parse_events
from metrics.storage.paging import PageTokenError
from metrics.storage.reports import UsageReports
from metrics.storage.store import UsageStore
from services.kernel.identity import Verifier
from services.kernel.peers import ROUTERS

__all__ = ["MetricsServicer"]

T = TypeVar("T")
Context = grpc.aio.ServicerContext[Any, Any]
_DB_ERRORS = (sa.exc.DBAPIError, sa.exc.TimeoutError)


class MetricsServicer(pb_grpc.MetricsServiceServicer):
    def __init__(
        self,
        *,
        store: UsageStore,
        reports: UsageReports,
        live: LiveHub,
        instruments: MetricsServiceInstruments,
        table: pricing.PriceTable,
        keys: KeyCache | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        verifier: Verifier | None = None,
    ) -> None:
        self._keys = keys
        self._verifier = verifier
        self._store = store
        self._reports = reports
        self._live = live
        self._instruments = instruments
        self._table = table
        self._clock = clock

    async def RecordUsage(
        self, request: pb.RecordUsageRequest, context: Context
    ) -> pb.RecordUsageResponse:
        trust_cost = self._sender_is_router(request, context)
        batch = parse_events(request.events, self._clock(), self._table, trust_cost=trust_cost)
        fresh = await self._store_rows(batch.rows) if batch.rows else []
        duplicates = len(request.events) - len(batch.rejected) - len(fresh)
        self._instruments.events.labels("stored").inc(len(fresh))
        self._instruments.events.labels("duplicate").inc(duplicates)
        self._instruments.events.labels("rejected").inc(len(batch.rejected))
        self._live.add(fresh)
        if request.HasField("health"):
            self._live.update_health(request.health)
        return pb.RecordUsageResponse(
            stored=len(fresh), duplicates=duplicates, rejected_event_ids=batch.rejected
        )

    def _sender_is_router(self, request: pb.RecordUsageRequest, context: Context) -> bool:
        """Whether the events' own cost may be stored: only a proven router's is. An
        unauthenticated sender's events are priced from this service's table; the
        provider service may send only its keys' health."""
        if self._verifier is None or not self._verifier.enforced:
            return False
        caller = self._verifier.peer(context.invocation_metadata(), context)
        if caller not in ROUTERS and len(request.events):
            raise errors.usage_from_routers_only()
        return caller in ROUTERS

    async def _store_rows(self, rows: list[Row]) -> list[Row]:
        """Store in a worker thread (a health-only call, with no rows, needs none)."""
        started = time.perf_counter()
        try:
            fresh = await asyncio.to_thread(self._store.record, rows)
        except _DB_ERRORS:
            self._instruments.write_failures.inc()
            raise errors.database_unavailable() from None
        self._instruments.batch_write.observe(time.perf_counter() - started)
        return fresh

    async def GetUsageSummary(
        self, request: pb.GetUsageSummaryRequest, context: Context
    ) -> pb.GetUsageSummaryResponse:
        self._authorize(context)
        query = _checked(lambda: usage_query(request, self._clock()))
        rows, token = await _db(self._reports.summary, query)
        return usage_response(rows, token)

    async def ExportUsageCsv(
        self, request: pb.ExportUsageCsvRequest, context: Context
    ) -> AsyncIterator[httpbody_pb2.HttpBody]:
        self._authorize(context)
        query = _checked(lambda: usage_query(request, self._clock()))
        async for chunk in csv_chunks(query, lambda q: _db(self._reports.summary, q)):
            yield httpbody_pb2.HttpBody(content_type="text/csv; charset=utf-8", data=chunk)

    async def GetLatencyReport(
        self, request: pb.GetLatencyReportRequest, context: Context
    ) -> pb.GetLatencyReportResponse:
        self._authorize(context)
        query = _checked(lambda: latency_query(request, self._clock()))
        rows, token = await _db(self._reports.latency, query)
        return latency_response(rows, token)

    async def GetOverheadReport(
        self, request: pb.GetOverheadReportRequest, context: Context
    ) -> pb.GetOverheadReportResponse:
        self._authorize(context)
        query = _checked(lambda: overhead_query(request, self._clock()))
        return overhead_response(await _db(self._reports.overhead, query))

    async def StreamLiveStats(
        self, request: pb.StreamLiveStatsRequest, context: Context
    ) -> AsyncIterator[pb.StreamLiveStatsResponse]:
        self._authorize(context)
        self._instruments.live_subscribers.inc()
        try:
            async with self._live.subscribe() as frames:
                async for frame in frames:
                    yield pb.StreamLiveStatsResponse(stats=frame)
        finally:
            self._instruments.live_subscribers.dec()

    async def StreamLiveStatsEvents(
        self, request: pb.StreamLiveStatsEventsRequest, context: Context
    ) -> AsyncIterator[httpbody_pb2.HttpBody]:
        self._authorize(context)
        kind = "text/event-stream"
        self._instruments.live_subscribers.inc()
        try:
            async with self._live.subscribe() as frames:
                # A comment first, so the edge sends headers before the first frame.
                yield httpbody_pb2.HttpBody(content_type=kind, data=b": live stats, 1/s\n\n")
                async for frame in frames:
                    yield httpbody_pb2.HttpBody(content_type=kind, data=_sse(frame))
        finally:
            self._instruments.live_subscribers.dec()

    def _authorize(self, context: Context) -> None:
        """Reports are for viewer and admin keys (RecordUsage is mesh-internal)."""
        if self._keys is not None:
            principal = self._keys.authenticate(bearer_token(context.invocation_metadata()))
            require_role(principal, write=False)


def _checked(build: Callable[[], T]) -> T:
    """Build a query from the request; what the request got wrong is INVALID_ARGUMENT."""
    try:
        return build()
    except (ValueError, PageTokenError) as exc:
        raise errors.invalid_argument(str(exc)) from None


async def _db(work: Callable[..., T], *args: Any) -> T:
    """Run a report in a worker thread; a database outage is UNAVAILABLE (retry)."""
    try:
        return await asyncio.to_thread(work, *args)
    except PageTokenError as exc:
        raise errors.invalid_argument(str(exc), param="page_token") from None
    except _DB_ERRORS:
        raise errors.database_unavailable() from None


def _sse(frame: pb.LiveStats) -> bytes:
    body = json_format.MessageToJson(
        frame,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
        indent=None,
    )
    return b"data: " + body.encode() + b"\n\n"
