"""An adapter built over a pooled HTTP client pointed at an emulator: what every
conformance entry of an HTTP provider yields, whatever its wire format."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from services.provider.adapters.base import Credential
from services.provider.http import PooledHttp
from services.provider.provider_spec import ProviderSpec
from services.provider.settings import ProviderConfig, Timeouts
from tests.provider.conformance.harness import Built
from tests.provider.core_support import REDACTOR
from tests.provider.registered import Manifest

__all__ = ["built_over"]


@contextlib.asynccontextmanager
async def built_over(
    emulator: Any, spec: ProviderSpec, manifest: Manifest, timeouts: Timeouts
) -> AsyncIterator[Built]:
    """`spec`'s adapter over a pool to `emulator` (anything with `base_url` and a
    `cancelled` count), with the manifest's key and upstream model."""
    http = PooledHttp(spec.name, emulator.base_url, timeouts=timeouts)
    await http.start()
    try:
        config = ProviderConfig(
            name=spec.name,
            base_url=emulator.base_url,
            api_key=manifest.key,
            timeouts=timeouts,
            redactor=REDACTOR,
        )

        async def upstream_closed() -> None:
            while emulator.cancelled == 0:
                await asyncio.sleep(0.01)

        yield Built(
            adapter=spec.factory(config, http),
            model=manifest.model,
            credential=Credential("test", manifest.key),
            upstream_closed=upstream_closed,
        )
    finally:
        await http.close()
