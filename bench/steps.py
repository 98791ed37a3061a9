"""`python -m bench.steps`: what each step of a request costs inside the router and
the provider service, measured in the real flow.

The router and the provider service are composed in this process exactly as their
entry points compose them (tests/router/stack.py), in front of the benchmark
upstream, with a client key that has rate limits and a budget so that admission
runs. Each step's function is wrapped with a clock for the run: sequential
requests (concurrency 1), so a synchronous step's wall time is its CPU time. The
whole request (`ChatCompletions` in the router, `Generate` in the provider) is
timed the same way; what the steps do not cover there is gRPC, the event loop and
HTTP — the transport, which the profiles in docs/performance.md break down.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import orjson
from agentopia.v1 import openai_compat_service_pb2_grpc as oc_grpc
from google.api import httpbody_pb2
from prometheus_client import CollectorRegistry

from bench.harness import DIRECT_MODEL
from keyvault.client.keycache import KeyCache
from services.kernel.service import Lifecycle
from services.provider.adapters.openai_compat import adapter as compat_adapter
from services.provider.http import PooledHttp
from services.provider.servicer import ProviderServicer
from services.router import openai_servicer, pipeline
from services.router.admission import Admission
from services.router.config import RouterConfig
from services.router.instruments import GatewayInstruments
from services.router.server import compose as compose_router
from tests.router.peers import CLIENT_KEY, KeyVaultDouble, MetricsDouble
from tests.router.stack import composing, peers, provider_service, router_env, started

__all__ = ["STEPS", "main", "measure_steps"]


@dataclass
class _Clock:
    calls: int = 0
    total_ns: int = 0


@dataclass
class Steps:
    clocks: dict[str, _Clock] = field(default_factory=dict)

    def reset(self) -> None:
        for clock in self.clocks.values():
            clock.calls, clock.total_ns = 0, 0

    def per_request_us(self, requests: int) -> dict[str, float]:
        return {name: clock.total_ns / 1000.0 / requests for name, clock in self.clocks.items()}

    def calls(self) -> dict[str, int]:
        return {name: clock.calls for name, clock in self.clocks.items()}


# (label, owner, attribute): the functions each step consists of.
STEPS: tuple[tuple[str, Any, str], ...] = (
    (
        "router: whole request (ChatCompletions)",
        openai_servicer.OpenAICompatServicer,
        "ChatCompletions",
    ),
    ("router: authentication (key cache)", KeyCache, "authenticate"),
    ("router: body check", openai_servicer, "parse_body"),
    ("router: routing decision", pipeline.Pipeline, "decide"),
    ("router: admission (reserve)", Admission, "admit"),
    ("router: admission (settle)", Admission, "finish"),
    ("router: usage event (build, price, queue)", pipeline.Pipeline, "account"),
    ("router: Prometheus instruments", GatewayInstruments, "observe_usage"),
    ("provider: whole request (Generate)", ProviderServicer, "Generate"),
    ("provider: request translation", compat_adapter, "build_request"),
    ("provider: response parse and translation", compat_adapter, "translate_response"),
    ("provider: upstream call (HTTP, incl. waiting)", PooledHttp, "post"),
    (
        "provider: adapter (translation + upstream call)",
        compat_adapter.OpenAICompatAdapter,
        "generate",
    ),
)


def _timed(clock: _Clock, fn: Callable[..., Any]) -> Callable[..., Any]:
    if asyncio.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def timed_async(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter_ns()
            try:
                return await fn(*args, **kwargs)
            finally:
                clock.calls += 1
                clock.total_ns += time.perf_counter_ns() - started

        return timed_async

    if getattr(fn, "__code__", None) is not None and fn.__code__.co_flags & 0x200:  # async gen

        @functools.wraps(fn)
        async def timed_gen(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter_ns()
            try:
                async for item in fn(*args, **kwargs):
                    yield item
            finally:
                clock.calls += 1
                clock.total_ns += time.perf_counter_ns() - started

        return timed_gen

    @functools.wraps(fn)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter_ns()
        try:
            return fn(*args, **kwargs)
        finally:
            clock.calls += 1
            clock.total_ns += time.perf_counter_ns() - started

    return timed


@contextlib.contextmanager
def _clocks() -> Iterator[Steps]:
    steps = Steps()
    originals = []
    for label, owner, name in STEPS:
        original = getattr(owner, name)
        clock = steps.clocks.setdefault(label, _Clock())
        originals.append((owner, name, original))
        setattr(owner, name, _timed(clock, original))
    try:
        yield steps
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


def _limited(keyvault: KeyVaultDouble) -> None:
    """Give the client key limits and a budget, so that admission reserves and settles."""
    for record in keyvault.snapshot.keys:
        if record.key.key_id == "k1":
            record.key.rpm_limit = 10_000_000
            record.key.tpm_limit = 2_000_000_000
            record.key.budget_usd = "1000000"


@contextlib.asynccontextmanager
async def _router(upstream: str) -> AsyncIterator[oc_grpc.OpenAICompatServiceAsyncStub]:
    env = {"OPENAI_API_KEY": "sk-bench-not-a-real-key", "OPENAI_BASE_URL": upstream}
    keyvault, metrics = KeyVaultDouble(), MetricsDouble()  # type: ignore[abstract]
    _limited(keyvault)
    async with (
        provider_service(env) as provider_target,
        peers(keyvault, metrics) as (keyvault_target, metrics_target),
    ):
        config = RouterConfig.from_env(
            router_env(provider=provider_target, keyvault=keyvault_target, metrics=metrics_target)
        )
        life = Lifecycle()
        service = await composing(
            compose_router(config, life, metrics_registry=CollectorRegistry()), life
        )
        async with (
            started(service, life) as port,
            grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel,
        ):
            yield oc_grpc.OpenAICompatServiceStub(channel)


async def _upstream(workdir: Path) -> tuple[asyncio.subprocess.Process, str]:
    port_file = workdir / "upstream.port"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.upstream", str(port_file)
    )
    while not port_file.exists():  # noqa: ASYNC110 (another process writes it)
        await asyncio.sleep(0.05)
    return process, f"http://127.0.0.1:{int(port_file.read_text())}/v1"


async def measure_steps(requests: int) -> dict[str, float]:
    request = httpbody_pb2.HttpBody(
        content_type="application/json",
        data=orjson.dumps(
            {"model": DIRECT_MODEL, "messages": [{"role": "user", "content": "ping bench-l0"}]}
        ),
    )
    metadata = (("authorization", f"Bearer {CLIENT_KEY}"),)
    with tempfile.TemporaryDirectory(prefix="agentopia-steps-") as tmp:
        upstream, url = await _upstream(Path(tmp))
        try:
            # Wrapped before composing: servicer methods are bound when registered.
            with _clocks() as steps:
                async with _router(url) as stub:
                    for _ in range(50):  # warm-up: caches, connections, code paths
                        [_ async for _ in stub.ChatCompletions(request, metadata=metadata)]
                    await asyncio.sleep(0.2)
                    steps.reset()
                    for _ in range(requests):
                        replies = [
                            r async for r in stub.ChatCompletions(request, metadata=metadata)
                        ]
                        assert replies and b'"choices"' in replies[0].data
                    await asyncio.sleep(0.2)  # let settlements after the response finish
                    return steps.per_request_us(requests)
        finally:
            upstream.terminate()
            await upstream.wait()


def table(per_request: dict[str, float]) -> str:
    lines = ["| step | µs per request |", "|---|---|"]
    lines += [f"| {label} | {us:.1f} |" for label, us in per_request.items()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    print(table(asyncio.run(measure_steps(args.requests))))


if __name__ == "__main__":
    main()
