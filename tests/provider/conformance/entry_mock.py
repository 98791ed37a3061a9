"""A provider on the mock adapter under test: in-process, faults through its per-request
settings object (the spec's `request_key`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from services.provider.adapters.mock import CAPABILITIES, MockAdapter
from services.provider.http import DisabledHttp
from services.provider.settings import ProviderConfig, Timeouts
from tests.provider.conformance.harness import Built, Fault, ProviderUnderTest
from tests.provider.core_support import REDACTOR
from tests.provider.registered import UnderTest

__all__ = ["entry"]


def entry(provider: UnderTest) -> ProviderUnderTest:
    manifest, spec = provider.manifest, provider.spec
    assert manifest is not None and spec.request_key, provider.name
    request_key = spec.request_key

    def inject(body: dict[str, Any], fault: Fault) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "status": {"fault_status": fault.status},
            "timeout": {"hang": True},
            "midstream": {"fail_after_chunks": fault.after_chunks},
            "stall": {"chunk_delay_ms": 60_000},
        }[fault.kind]
        return {**body, request_key: settings}

    @contextlib.asynccontextmanager
    async def build(timeouts: Timeouts) -> AsyncIterator[Built]:
        config = ProviderConfig(
            name=spec.name, requires_key=False, timeouts=timeouts, redactor=REDACTOR
        )
        adapter = spec.factory(config, DisabledHttp(spec.name))
        assert isinstance(adapter, MockAdapter)

        async def closed() -> None:
            while adapter.active_streams:
                await asyncio.sleep(0.01)

        yield Built(adapter=adapter, model=manifest.model, inject=inject, upstream_closed=closed)

    return ProviderUnderTest(
        name=spec.name, capabilities=CAPABILITIES, build=build, vocabulary=spec.vocabulary
    )
