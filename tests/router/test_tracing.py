"""One request, one trace: the router's server and client spans, the provider's
server span and its upstream HTTP span share a trace id, the upstream request
carries the trace in `traceparent`, and no span holds key material."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import orjson
import pytest
import pytest_asyncio
from agentopia.v1 import openai_compat_service_pb2_grpc as oc_grpc
from google.api import httpbody_pb2
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.emulators.openai_compat import OpenAICompatEmulator
from tests.router.stack import CLIENT_KEY, router_stack
from tests.support.tracing import recording_exporter

PROVIDER_KEY = "sk-upstream-secret-for-trace-test"


@dataclass
class Stack:
    router: grpc.aio.Channel
    exporter: InMemorySpanExporter
    upstream: OpenAICompatEmulator


@pytest.fixture(scope="module")
def exporter() -> InMemorySpanExporter:
    return recording_exporter()


@pytest_asyncio.fixture(loop_scope="session")
async def stack(exporter: InMemorySpanExporter) -> AsyncIterator[Stack]:
    async with OpenAICompatEmulator("openai", api_keys=(PROVIDER_KEY,)) as upstream:
        env = {"OPENAI_API_KEY": PROVIDER_KEY, "OPENAI_BASE_URL": upstream.base_url}
        async with router_stack(env) as running:
            yield Stack(running.channel, exporter, upstream)


async def _chat(stack: Stack, stream: bool) -> list[httpbody_pb2.HttpBody]:
    stub = oc_grpc.OpenAICompatServiceStub(stack.router)
    body = {
        "model": "openai/gpt-4o-mini",
        "stream": stream,
        "messages": [{"role": "user", "content": "trace me"}],
    }
    call = stub.ChatCompletions(
        httpbody_pb2.HttpBody(content_type="application/json", data=orjson.dumps(body)),
        metadata=[("authorization", f"Bearer {CLIENT_KEY}")],
        timeout=30,
    )
    return [message async for message in call]


def _by_trace(spans: tuple[ReadableSpan, ...]) -> dict[int, list[ReadableSpan]]:
    traces: dict[int, list[ReadableSpan]] = {}
    for span in spans:
        assert span.context is not None
        traces.setdefault(span.context.trace_id, []).append(span)
    return traces


@pytest.mark.parametrize("stream", [False, True])
async def test_one_request_is_one_trace_across_router_provider_and_upstream(
    stack: Stack, stream: bool
) -> None:
    stack.exporter.clear()
    replies = await _chat(stack, stream)
    assert replies and replies[0].data

    traces = _by_trace(stack.exporter.get_finished_spans())
    assert len(traces) == 1, [s.name for s in stack.exporter.get_finished_spans()]
    (spans,) = traces.values()
    names = [span.name for span in spans]
    assert "/agentopia.v1.OpenAICompatService/ChatCompletions" in names
    assert (
        names.count("/agentopia.v1.ProviderService/" + ("StreamGenerate" if stream else "Generate"))
        == 2
    )
    assert any(name.startswith("POST /chat/completions") for name in names)

    trace_id = next(iter(traces))
    traceparent = stack.upstream.last.headers.get("traceparent", "")
    assert traceparent.split("-")[1] == f"{trace_id:032x}"

    router_span = next(s for s in spans if s.name.endswith("OpenAICompatService/ChatCompletions"))
    assert router_span.attributes is not None
    assert router_span.attributes["gen_ai.provider.name"] == "openai"
    assert router_span.attributes["gen_ai.usage.input_tokens"] > 0

    dumped = repr(
        [
            (s.name, dict(s.attributes or {}), [dict(e.attributes or {}) for e in s.events])
            for s in spans
        ]
    )
    assert CLIENT_KEY not in dumped and PROVIDER_KEY not in dumped
