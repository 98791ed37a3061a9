"""The `mock` provider under test: in-process, faults through its per-request `mock` object."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from services.provider.adapters.mock import CAPABILITIES, PROVIDER, MockAdapter
from services.provider.config import ProviderConfig, Timeouts
from services.provider.http import DisabledHttp
from tests.provider.conformance.harness import HARNESS_CAPABILITIES, Built, Fault, ProviderUnderTest


def _inject(body: dict[str, Any], fault: Fault) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "status": {"fault_status": fault.status},
        "timeout": {"hang": True},
        "midstream": {"fail_after_chunks": fault.after_chunks},
        "stall": {"chunk_delay_ms": 60_000},
    }[fault.kind]
    return {**body, "mock": settings}


@contextlib.asynccontextmanager
async def _build(timeouts: Timeouts) -> AsyncIterator[Built]:
    config = ProviderConfig(name="mock", requires_key=False, timeouts=timeouts)
    adapter = PROVIDER.factory(config, DisabledHttp("mock"))
    assert isinstance(adapter, MockAdapter)

    async def closed() -> None:
        while adapter.active_streams:
            await asyncio.sleep(0.01)

    yield Built(adapter=adapter, model="mock/conformance", inject=_inject, upstream_closed=closed)


ENTRY = ProviderUnderTest(
    name="mock",
    capabilities=frozenset(str(c) for c in CAPABILITIES) | HARNESS_CAPABILITIES,
    build=_build,
)
