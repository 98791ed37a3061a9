"""The Messages surface's SDK client, for every module of this folder."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anthropic
import pytest_asyncio

from tests.e2e.conftest import Edge


@pytest_asyncio.fixture
async def claude(edge: Edge) -> AsyncIterator[anthropic.AsyncAnthropic]:
    """The SDK as Claude Code would be pointed at the gateway (ANTHROPIC_BASE_URL)."""
    async with anthropic.AsyncAnthropic(
        base_url=edge.url, api_key=edge.admin_key, max_retries=0
    ) as sdk:
        yield sdk
