"""The `openai` provider under test: the shared OpenAI-compatible adapter over real
HTTP (PooledHttp) against tests/emulators/openai_compat.py in OpenAI mode.

`compat_entry` builds the entry of any OpenAI-compatible provider (see entry_groq.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Literal

from services.provider.adapters import openai
from services.provider.adapters.base import Capability, Credential
from services.provider.config import ProviderConfig, Timeouts
from services.provider.http import PooledHttp
from services.provider.provider_spec import ProviderSpec
from tests.emulators.openai_compat import Fault as EmulatorFault
from tests.emulators.openai_compat import OpenAICompatEmulator, Reply
from tests.provider.conformance.harness import (
    HARNESS_CAPABILITIES,
    Built,
    ProviderUnderTest,
    parse_marker,
)

__all__ = ["ENTRY", "compat_entry", "fault_for"]


def fault_for(request_text: str) -> Reply | EmulatorFault | None:
    """The harness's fault marker (found in the translated upstream body) → what to play."""
    fault = parse_marker(request_text)
    if fault is None:
        return None
    if fault.kind == "status":
        return EmulatorFault(status=fault.status)
    if fault.kind == "timeout":
        return Reply(hang=True)
    if fault.kind == "midstream":
        return Reply(error_after=fault.after_chunks)
    return Reply(stall_after=1)  # "stall": one chunk, then silence until the client leaves


def compat_entry(
    provider: ProviderSpec,
    *,
    flavor: Literal["openai", "groq"],
    capabilities: frozenset[Capability],
    model: str,
    key: str,
) -> ProviderUnderTest:
    @contextlib.asynccontextmanager
    async def build(timeouts: Timeouts) -> AsyncIterator[Built]:
        async with OpenAICompatEmulator(flavor, api_keys=(key,), fault_hook=fault_for) as emu:
            http = PooledHttp(provider.name, emu.base_url, timeouts=timeouts)
            await http.start()
            try:
                config = ProviderConfig(
                    name=provider.name, base_url=emu.base_url, api_key=key, timeouts=timeouts
                )

                async def upstream_closed() -> None:
                    while emu.cancelled == 0:
                        await asyncio.sleep(0.01)

                yield Built(
                    adapter=provider.factory(config, http),
                    model=model,
                    credential=Credential("test", key),
                    upstream_closed=upstream_closed,
                )
            finally:
                await http.close()

    return ProviderUnderTest(
        name=provider.name,
        capabilities=frozenset(str(c) for c in capabilities) | HARNESS_CAPABILITIES,
        build=build,
    )


ENTRY = compat_entry(
    openai.PROVIDER,
    flavor="openai",
    capabilities=openai.SPEC.capabilities,
    model="gpt-4o-mini-2024-07-18",
    key="sk-test-openai-conformance-0123456789",
)
