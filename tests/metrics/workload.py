"""A scripted, deterministic mixed workload and the report it must produce,
computed independently in Python with exact decimals."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from agentopia.v1 import metrics_service_pb2 as pb

from metrics.client import pricing

# provider, model, prompt range, cached share, cache-write share, reasoning share
MODELS = [
    ("openai", "gpt-4o-2024-08-06", 0.5, 0.0, 0.0),
    ("openai", "o3", 0.3, 0.0, 0.6),
    ("anthropic", "claude-sonnet-4-20250514", 0.4, 0.2, 0.0),
    ("groq", "llama-3.3-70b-versatile", 0.0, 0.0, 0.0),
    ("mock", "echo", 0.3, 0.1, 0.5),
    ("acme", "unknown-model", 0.0, 0.0, 0.0),  # unpriced
]
KEYS = [("key_a", "team-red"), ("key_b", "team-red"), ("key_c", "team-blue")]
ERRORS = [(429, "rate_limited"), (502, "upstream_error"), (504, "timeout")]


@dataclass
class Expected:
    requests: int = 0
    errors: int = 0
    unpriced: int = 0
    streamed: int = 0
    prompt: int = 0
    completion: int = 0
    cached: int = 0
    cache_creation: int = 0
    reasoning: int = 0
    retries: int = 0
    failovers: int = 0
    cost: Decimal = field(default_factory=Decimal)
    latencies: list[float] = field(default_factory=list)


def _event(rng: random.Random, n: int, at: dt.datetime) -> pb.UsageEvent:
    provider, model, cached_share, write_share, reasoning_share = rng.choice(MODELS)
    key, team = rng.choice(KEYS)
    failed = rng.random() < 0.1
    prompt = 0 if failed else rng.randint(1, 250_000 if provider == "anthropic" else 4000)
    completion = 0 if failed else rng.randint(1, 2000)
    status, code = rng.choice(ERRORS) if failed else (200, "")
    stream = rng.random() < 0.5
    latency = round(rng.uniform(20, 3000), 3)
    upstream = round(latency * rng.uniform(0.9, 0.999), 3)
    event = pb.UsageEvent(
        event_id=f"evt-{n:06d}",
        request_id=f"req-{n:06d}",
        key_id=key,
        team=team,
        requested_model=model if rng.random() < 0.7 else "auto",
        model=model,
        provider=provider,
        deployment_id=f"{provider}-{model}",
        operation="chat",
        stream=stream,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cached_tokens=int(prompt * cached_share * rng.random()),
        cache_creation_tokens=int(prompt * write_share * rng.random()),
        reasoning_tokens=int(completion * reasoning_share * rng.random()),
        latency_ms=latency,
        time_to_first_token_ms=round(latency * 0.2, 3) if stream and not failed else 0.0,
        upstream_latency_ms=upstream,
        overhead_ms=round(latency - upstream, 3),
        status_code=status,
        error_code=code,
        retries=rng.choice([0, 0, 0, 1, 2]),
        failovers=rng.choice([0, 0, 0, 0, 1]),
    )
    event.time.FromDatetime(at)
    return event


def workload(
    count: int, start: dt.datetime, span: dt.timedelta, seed: int = 6
) -> list[pb.UsageEvent]:
    """`count` events spread over [start, start + span); about a third left
    for the metrics service to price (empty cost_usd), the rest priced by the sender."""
    rng = random.Random(seed)
    events = []
    for n in range(count):
        at = start + span * (n / count) + dt.timedelta(microseconds=rng.randint(0, 999))
        event = _event(rng, n, at)
        if rng.random() < 0.66:
            result = pricing.price(event.model, event, at, provider=event.provider)
            event.cost_usd = result.cost_str if isinstance(result, pricing.Priced) else ""
        events.append(event)
    return events


GROUPS = {
    "": lambda e: "",
    "key_id": lambda e: e.key_id,
    "team": lambda e: e.team,
    "model": lambda e: e.model,
    "provider": lambda e: e.provider,
}


def expected(
    events: list[pb.UsageEvent], group_by: str, bucket_s: int = 0
) -> dict[tuple[int | None, str], Expected]:
    out: dict[tuple[int | None, str], Expected] = defaultdict(Expected)
    for event in events:
        seconds = event.time.seconds
        bucket = seconds - seconds % bucket_s if bucket_s else None
        acc = out[(bucket, GROUPS[group_by](event))]
        at = event.time.ToDatetime(dt.UTC)
        result = pricing.price(event.model, event, at, provider=event.provider)
        acc.requests += 1
        acc.errors += int(event.status_code >= 400 or bool(event.error_code))
        acc.streamed += int(event.stream)
        acc.prompt += event.prompt_tokens
        acc.completion += event.completion_tokens
        acc.cached += event.cached_tokens
        acc.cache_creation += event.cache_creation_tokens
        acc.reasoning += event.reasoning_tokens
        acc.retries += event.retries
        acc.failovers += event.failovers
        acc.latencies.append(event.latency_ms)
        if isinstance(result, pricing.Priced):
            acc.cost += result.cost_usd
        else:
            acc.unpriced += 1
    return dict(out)
