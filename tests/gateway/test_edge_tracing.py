"""The edge's own spans reach an OTLP collector, and the trace continues
into the services (the caller's trace id, Envoy's span as the new parent)."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import aiohttp
import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from gateway.settings import EdgeSettings, HostPort, OtelSettings
from tests.gateway.stubs import CLIENT_AUTH, RouterStub, start_server
from tests.support.edge import run_edge

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


class Collector(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.spans: list[Any] = []
        self.received = asyncio.Event()

    async def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: Any
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                self.spans.extend(scope.spans)
        self.received.set()
        return trace_service_pb2.ExportTraceServiceResponse()


async def test_edge_exports_spans_and_propagates_the_trace() -> None:
    collector = Collector()
    otlp = grpc.aio.server()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(collector, otlp)
    otlp_port = otlp.add_insecure_port("127.0.0.1:0")
    await otlp.start()
    router = RouterStub()
    server, port = await start_server(router)
    otel = OtelSettings(HostPort("127.0.0.1", otlp_port), "grpc", False, "agentopia-edge")
    settings = dataclasses.replace(EdgeSettings(console_dir=None), otel=otel)
    try:
        async with run_edge(router_port=port, settings=settings) as edge:
            async with aiohttp.ClientSession(edge.url, headers=CLIENT_AUTH) as http:
                # Envoy flushes after 5 spans (or its flush interval).
                for _ in range(5):
                    payload = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
                    headers = {"traceparent": TRACEPARENT}
                    async with http.post(
                        "/v1/chat/completions", json=payload, headers=headers
                    ) as reply:
                        assert reply.status == 200
            while not any(span.trace_id.hex() == TRACE_ID for span in collector.spans):
                collector.received.clear()
                await collector.received.wait()
    finally:
        await server.stop(0)
        await otlp.stop(0)
    upstream = router.metadata[-1]["traceparent"]
    _, trace_id, parent, _ = upstream.split("-")
    assert trace_id == TRACE_ID  # the caller's trace continues into the router
    assert parent != "00f067aa0ba902b7"  # with the edge's span as the parent
    edge_span_ids = {
        span.span_id.hex() for span in collector.spans if span.trace_id.hex() == TRACE_ID
    }
    assert parent in edge_span_ids
