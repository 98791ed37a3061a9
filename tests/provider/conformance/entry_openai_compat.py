"""Any OpenAI-compatible provider under test: the shared adapter, built from the
provider's own spec, over real HTTP (PooledHttp) against
tests/emulators/openai_compat.py in the wire flavor its provider.json names.

`fault_for` is the emulator hook that turns the harness's fault markers into the
emulator's faults (the end-to-end suite uses it too).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import get_args

from services.provider.settings import Timeouts
from tests.emulators._openai_compat_wire import Flavor
from tests.emulators.openai_compat import Fault as EmulatorFault
from tests.emulators.openai_compat import OpenAICompatEmulator, Reply
from tests.provider.conformance.harness import Built, ProviderUnderTest, parse_marker
from tests.provider.conformance.over_http import built_over
from tests.provider.registered import UnderTest

__all__ = ["entry", "fault_for", "flavor_of"]


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


def flavor_of(name: str) -> Flavor:
    for flavor in get_args(Flavor):
        if flavor == name:
            return flavor  # type: ignore[no-any-return]
    raise ValueError(f"the openai_compat emulator has no flavor {name!r}")


def entry(provider: UnderTest) -> ProviderUnderTest:
    compat, manifest = provider.compat, provider.manifest
    assert compat is not None and manifest is not None, provider.name
    flavor, key, spec = flavor_of(manifest.flavor), manifest.key, provider.spec

    @contextlib.asynccontextmanager
    async def build(timeouts: Timeouts) -> AsyncIterator[Built]:
        async with (
            OpenAICompatEmulator(flavor, api_keys=(key,), fault_hook=fault_for) as emu,
            built_over(emu, spec, manifest, timeouts) as built,
        ):
            yield built

    return ProviderUnderTest(
        name=spec.name, capabilities=compat.capabilities, build=build, vocabulary=spec.vocabulary
    )
