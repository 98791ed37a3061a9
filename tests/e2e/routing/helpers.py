"""Reading the router's decision header and driving bounded concurrent load."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import openai

__all__ = ["Routed", "ask", "route_of", "run_concurrently"]

Routed = tuple[int, dict[str, str]]  # (HTTP status, the parsed x-agentopia-route fields)


def route_of(header: str) -> dict[str, str]:
    """`model=a; deployment=b; reason=c; ...` → {"model": "a", ...}."""
    fields: dict[str, str] = {}
    for part in header.split("; "):
        key, _, value = part.partition("=")
        fields[key] = value.strip('"')
    return fields


async def ask(client: openai.AsyncOpenAI, model: str, **extra: Any) -> Routed:
    """One chat completion; the status and the route it took (errors included)."""
    messages = extra.pop("messages", [{"role": "user", "content": "ping"}])
    try:
        raw = await client.chat.completions.with_raw_response.create(
            model=model, messages=messages, **extra
        )
    except openai.APIStatusError as error:
        return error.status_code, route_of(error.response.headers.get("x-agentopia-route", ""))
    raw.parse()
    return raw.status_code, route_of(raw.headers.get("x-agentopia-route", ""))


async def run_concurrently(
    count: int, concurrency: int, one: Callable[[], Awaitable[Routed]]
) -> list[Routed]:
    """`count` calls of `one`, at most `concurrency` in flight; bounded and in order."""
    results: list[Routed] = []
    remaining = count

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            results.append(await one())

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return results
