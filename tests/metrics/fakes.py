"""A scriptable MetricsService for client tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc
from agentopia.v1 import metrics_service_pb2 as pb
from agentopia.v1 import metrics_service_pb2_grpc as pb_grpc


class FakeMetrics(pb_grpc.MetricsServiceServicer):
    """Stores events by id. `fail_next` calls fail with UNAVAILABLE; when
    `store_then_fail` is set they fail *after* storing (a lost acknowledgement)."""

    def __init__(self) -> None:
        self.events: dict[str, pb.UsageEvent] = {}
        self.deliveries = 0
        self.calls = 0
        self.fail_next = 0
        self.store_then_fail = False
        self.invalid = False
        self.health: list[pb.HealthReport] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def RecordUsage(
        self, request: pb.RecordUsageRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.RecordUsageResponse:
        self.calls += 1
        await self.gate.wait()
        if self.invalid:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "malformed batch")
        failing = self.fail_next > 0
        self.fail_next -= int(failing)
        if failing and not self.store_then_fail:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "down")
        stored = 0
        for event in request.events:
            self.deliveries += 1
            if event.event_id not in self.events:
                self.events[event.event_id] = event
                stored += 1
        if request.HasField("health"):
            self.health.append(request.health)
        if failing:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "stored, but the reply was lost")
        return pb.RecordUsageResponse(stored=stored, duplicates=len(request.events) - stored)


@asynccontextmanager
async def serve_fake(fake: FakeMetrics) -> AsyncIterator[str]:
    server = grpc.aio.server()
    pb_grpc.add_MetricsServiceServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(0)
