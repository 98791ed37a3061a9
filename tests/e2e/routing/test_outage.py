"""A hard outage of one provider (its emulator stopped) is invisible to callers of
an alias that spans providers, beyond one failed attempt per request until the
circuit opens — and then not even that."""

from __future__ import annotations

import pytest

from tests.e2e.routing.conftest import RoutingMesh
from tests.e2e.routing.helpers import ask, run_concurrently

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]


async def test_provider_outage_is_invisible_behind_a_spanning_alias(routing: RoutingMesh) -> None:
    async with routing.client() as client:
        healthy = await run_concurrently(20, 4, lambda: ask(client, "spanning"))
        assert {route["model"] for _, route in healthy} == {"gpt-4o-mini"}

        await routing.openai.__aexit__(None, None, None)  # the provider goes away

        results = await run_concurrently(200, 4, lambda: ask(client, "spanning"))
    assert all(status == 200 for status, _ in results)
    assert {route["model"] for _, route in results} == {"claude-haiku-4-5"}
    assert all(int(route["failovers"]) <= 1 for _, route in results)
    # Once the breaker is open the dead provider is skipped without an attempt.
    tail = results[-100:]
    assert sum(1 for _, route in tail if route["failovers"] == "1") <= 5
