"""A provider on the Anthropic adapter under test: over real HTTP (PooledHttp) against
tests/emulators/anthropic.py, which validates every translated request like the real
Messages API and answers the scenario prompts deterministically.

`respond` is the emulator hook (the end-to-end suite uses it too)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson

from services.provider.adapters.anthropic.adapter import CAPABILITIES
from services.provider.adapters.anthropic.translate import JSON_OBJECT_INSTRUCTION
from services.provider.settings import Timeouts
from tests.emulators.anthropic import AnthropicEmulator, Fault, Reply, text, tool_use
from tests.provider.conformance.harness import Built, ProviderUnderTest, parse_marker
from tests.provider.conformance.over_http import built_over
from tests.provider.registered import UnderTest

__all__ = ["entry", "respond"]
# message_start, content_block_start and ping come before the first text delta:
# after N chunks (role chunk + N-1 deltas) the stream has sent N + 2 events.
_EVENTS_BEFORE_SECOND_CHUNK = 2
_INPUTS: dict[str, Any] = {
    "get_weather": {"city": "Paris", "unit": "celsius"},
    "get_time": {"city": "Tokyo"},
}


def _fault(raw: str) -> Reply | Fault | None:
    fault = parse_marker(raw)
    if fault is None:
        return None
    if fault.kind == "status":
        return Fault(fault.status, message=f"scripted HTTP {fault.status}")
    if fault.kind == "timeout":
        return Reply(hang=True)
    if fault.kind == "midstream":
        return Reply(error_after=fault.after_chunks + _EVENTS_BEFORE_SECOND_CHUNK)
    return Reply(stall_after=1)  # "stall": message_start only, then silence


def _sample(schema: Any) -> Any:
    kind = schema.get("type") if isinstance(schema, dict) else None
    if kind == "object":
        return {name: _sample(sub) for name, sub in schema.get("properties", {}).items()}
    return {"string": "hello", "integer": 1, "number": 1.5, "boolean": True}.get(str(kind), [])


def _tool_reply(body: dict[str, Any]) -> Reply | None:
    choice = body.get("tool_choice") or {}
    names = [tool["name"] for tool in body.get("tools", [])]
    if choice.get("type") == "tool":
        chosen = [choice["name"]]
    elif choice.get("type") == "any":
        parallel = not choice.get("disable_parallel_tool_use") and "both at once" in str(body)
        chosen = names if parallel else names[:1]
    else:
        return None
    uses = [
        tool_use(f"toolu_conf_{i}", name, _INPUTS.get(name, {})) for i, name in enumerate(chosen)
    ]
    return Reply(content=uses, stop_reason="tool_use", output_tokens=9 * len(uses))


def respond(body: dict[str, Any], raw: str) -> Reply | Fault | None:
    """The emulator hook: faults on demand, else a reply that fits the scenario."""
    fault = _fault(raw)
    if fault is not None:
        return fault
    tools = _tool_reply(body)
    if tools is not None:
        return tools
    output = body.get("output_config", {}).get("format")
    if output is not None:
        return Reply(content=[text(orjson.dumps(_sample(output["schema"])).decode())])
    if JSON_OBJECT_INSTRUCTION in str(body.get("system", "")):
        return Reply(content=[text('{"greeting": "hello"}')])
    return None  # the emulator's default text reply


def entry(provider: UnderTest) -> ProviderUnderTest:
    manifest, spec = provider.manifest, provider.spec
    assert manifest is not None, provider.name
    key = manifest.key

    @contextlib.asynccontextmanager
    async def build(timeouts: Timeouts) -> AsyncIterator[Built]:
        async with (
            AnthropicEmulator(api_keys=(key,), hook=respond) as emu,
            built_over(emu, spec, manifest, timeouts) as built,
        ):
            yield built

    return ProviderUnderTest(
        name=spec.name, capabilities=CAPABILITIES, build=build, vocabulary=spec.vocabulary
    )
