"""Issue 6's promises end to end: a scripted mixed workload through the edge is
reported exactly (counts, tokens incl. cached and reasoning, cost to the cent
fraction); inference keeps working while the metrics service and the key vault
are frozen, and no usage event is lost when they come back; every service's
/metrics parses as Prometheus exposition."""

from __future__ import annotations

import asyncio
import collections
import signal
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import grpc
import openai
import pytest
import pytest_asyncio
from agentopia.v1 import client_key_service_pb2 as kv_pb2
from agentopia.v1 import client_key_service_pb2_grpc as kv_grpc
from agentopia.v1 import keyvault_types_pb2 as kv_types
from agentopia.v1 import metrics_service_pb2 as m_pb2
from agentopia.v1 import metrics_service_pb2_grpc as m_grpc
from prometheus_client.parser import text_string_to_metric_families

from metrics.client.pricing import Priced, price
from tests.emulators.openai_compat import OpenAICompatEmulator, Reply
from tests.support.edge import run_edge
from tests.support.mesh import Mesh, run_mesh

pytestmark = [pytest.mark.e2e]
_async = pytest.mark.asyncio(loop_scope="session")

OPENAI_KEY = "sk-e2e-observability-openai-key-0000000"
SERVICES = ("router", "provider", "keyvault", "metrics")


@dataclass
class Observed:
    mesh: Mesh
    url: str
    prometheus: dict[str, int]

    async def key(self, name: str, team: str) -> tuple[str, str]:
        async with grpc.aio.insecure_channel(self.mesh.target("keyvault")) as channel:
            reply = await kv_grpc.ClientKeyServiceStub(channel).CreateClientKey(
                kv_pb2.CreateClientKeyRequest(name=name, team=team, role=kv_types.KEY_ROLE_CLIENT),
                metadata=(("authorization", f"Bearer {self.mesh.admin_key}"),),
                timeout=10,
            )
        return reply.secret, reply.key.key_id

    async def summary(self, key_id: str) -> m_pb2.UsageSummaryRow | None:
        async with grpc.aio.insecure_channel(self.mesh.target("metrics")) as channel:
            reply = await m_grpc.MetricsServiceStub(channel).GetUsageSummary(
                m_pb2.GetUsageSummaryRequest(group_by=m_pb2.USAGE_GROUP_BY_KEY, key_id=key_id),
                metadata=(("authorization", f"Bearer {self.mesh.admin_key}"),),
                timeout=10,
            )
        return next((row for row in reply.rows if row.group == key_id), None)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def observed(
    tmp_path_factory: pytest.TempPathFactory, topology: str
) -> AsyncIterator[Observed]:
    workdir = tmp_path_factory.mktemp(f"observed-{topology}")
    default = Reply(text="Cached and reasoned.", cached_tokens=4, reasoning_tokens=3)
    async with OpenAICompatEmulator("openai", api_keys=(OPENAI_KEY,), default=default) as oai:
        env = {"OPENAI_API_KEY": OPENAI_KEY, "OPENAI_BASE_URL": oai.base_url}
        async with (
            run_mesh(workdir, env, prometheus=SERVICES, topology=topology) as mesh,
            run_edge(
                router_port=mesh.services["router"].port,
                keyvault_port=mesh.services["keyvault"].port,
                metrics_port=mesh.services["metrics"].port,
            ) as edge,
        ):
            ports = {name: mesh.process(name).prometheus_port for name in SERVICES}
            yield Observed(mesh=mesh, url=edge.url, prometheus=ports)


@dataclass
class Expected:
    requests: int = 0
    errors: int = 0
    streamed: int = 0
    prompt: int = 0
    completion: int = 0
    cached: int = 0
    reasoning: int = 0
    cost: Decimal = Decimal(0)

    def add(self, model: str, provider: str, usage: Any, *, stream: bool) -> None:
        self.requests += 1
        self.streamed += int(stream)
        self.prompt += usage.prompt_tokens
        self.completion += usage.completion_tokens
        details = usage.prompt_tokens_details
        self.cached += (details.cached_tokens or 0) if details else 0
        completion_details = usage.completion_tokens_details
        self.reasoning += (completion_details.reasoning_tokens or 0) if completion_details else 0
        tokens = collections.namedtuple(
            "tokens",
            "prompt_tokens completion_tokens cached_tokens cache_creation_tokens reasoning_tokens",
        )(
            usage.prompt_tokens,
            usage.completion_tokens,
            (details.cached_tokens or 0) if details else 0,
            0,
            (completion_details.reasoning_tokens or 0) if completion_details else 0,
        )
        priced = price(model, tokens, provider=provider)
        assert isinstance(priced, Priced)
        self.cost += priced.cost_usd


async def _workload(client: openai.AsyncOpenAI, expected: Expected) -> None:
    plan = [("mock/echo", "mock", False), ("mock/echo", "mock", True)] * 3 + [
        ("gpt-4o-mini", "openai", False),
        ("gpt-4o-mini", "openai", True),
    ] * 2
    for model, provider, stream in plan:
        messages = [{"role": "user", "content": f"Workload item for {model}"}]
        if stream:
            chunks = [
                chunk
                async for chunk in await client.chat.completions.create(
                    model=model,
                    messages=messages,  # type: ignore[arg-type]
                    stream=True,
                    stream_options={"include_usage": True},
                )
            ]
            usage, served = chunks[-1].usage, chunks[-1].model
        else:
            reply = await client.chat.completions.create(model=model, messages=messages)  # type: ignore[arg-type]
            usage, served = reply.usage, reply.model
        expected.add(served, provider, usage, stream=stream)
    for _ in range(2):  # failures are counted as requests and errors, at no cost
        with pytest.raises(openai.BadRequestError):
            await client.chat.completions.create(
                model="mock/echo",
                messages=[{"role": "user", "content": "fail"}],
                extra_body={"mock": {"fault_status": 400}},
            )
        expected.requests += 1
        expected.errors += 1


async def _settled(observed: Observed, key_id: str, requests: int) -> m_pb2.UsageSummaryRow:
    for _ in range(150):  # events flush in batches, about once a second
        row = await observed.summary(key_id)
        if row is not None and row.requests >= requests:
            return row
        await asyncio.sleep(0.2)
    raise AssertionError(f"usage for {key_id} never reached {requests} requests")


@_async
async def test_mixed_workload_is_reported_exactly(observed: Observed) -> None:
    keys = [await observed.key("alpha", "team-a"), await observed.key("beta", "team-b")]
    expected = {key_id: Expected() for _, key_id in keys}
    for secret, key_id in keys:
        async with openai.AsyncOpenAI(
            base_url=f"{observed.url}/v1", api_key=secret, max_retries=0
        ) as client:
            await _workload(client, expected[key_id])
    for key_id, want in expected.items():
        row = await _settled(observed, key_id, want.requests)
        assert (row.requests, row.errors, row.streamed_requests) == (
            want.requests,
            want.errors,
            want.streamed,
        )
        assert (row.prompt_tokens, row.completion_tokens) == (want.prompt, want.completion)
        assert (row.cached_tokens, row.reasoning_tokens) == (want.cached, want.reasoning)
        assert want.cached > 0 and want.reasoning > 0
        assert Decimal(row.cost_usd) == want.cost
        assert row.unpriced_requests == 0


@_async
async def test_inference_survives_frozen_metrics_and_keyvault(observed: Observed) -> None:
    secret, key_id = await observed.key("frozen", "team-c")
    await asyncio.sleep(0.3)  # the key's snapshot reaches the router
    frozen = [observed.mesh.services[name].process for name in ("metrics", "keyvault")]
    for process in frozen:
        process.send_signal(signal.SIGSTOP)
    try:
        async with openai.AsyncOpenAI(
            base_url=f"{observed.url}/v1", api_key=secret, max_retries=0
        ) as client:
            for _ in range(20):
                reply = await client.chat.completions.create(
                    model="mock/echo", messages=[{"role": "user", "content": "still there?"}]
                )
                assert reply.choices[0].message.content
    finally:
        for process in frozen:
            process.send_signal(signal.SIGCONT)
    row = await _settled(observed, key_id, 20)
    assert row.requests == 20  # nothing lost while the metrics service was away


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_exposes_prometheus_metrics(observed: Observed, service: str) -> None:
    url = f"http://127.0.0.1:{observed.prometheus[service]}/metrics"
    with urllib.request.urlopen(url, timeout=10) as reply:
        text = reply.read().decode()
    families = {family.name for family in text_string_to_metric_families(text)}
    assert "process_cpu_seconds" in families
    if service == "router":
        assert {"gen_ai_client_operation_duration_seconds", "agentopia_failovers"} <= families
