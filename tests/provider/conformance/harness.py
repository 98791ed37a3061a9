"""The shared conformance harness: what a "provider under test" entry declares.

Each entry builds its adapter (in-process, or against its emulator on
127.0.0.1:0), declares its capabilities, and says how to make it fail on
demand. Scenarios (test_conformance.py) run over every entry in entries.py and
skip only by declared capability.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from services.provider.adapters.base import Adapter, CapabilityValue, Credential
from services.provider.client import short_name
from services.provider.settings import Timeouts
from services.provider.vocabulary import GENERIC, Vocabulary

__all__ = [
    "HARNESS_CAPABILITIES",
    "Built",
    "Fault",
    "ProviderUnderTest",
    "fault_marker",
    "inject_marker",
    "label",
    "parse_marker",
]

# Beyond the adapter's capabilities: what the harness can exercise for an entry.
ERRORS = "errors"  # every upstream error status of the table, on demand
TIMEOUT = "timeout"  # an upstream that never answers
MIDSTREAM_ERROR = "midstream_error"  # a stream that breaks after N chunks
CANCELLATION = "cancellation"  # a stream that stalls, so the consumer can cancel it
DETERMINISTIC = "deterministic"  # same request → same content, streamed or not
HARNESS_CAPABILITIES = frozenset({ERRORS, TIMEOUT, MIDSTREAM_ERROR, CANCELLATION, DETERMINISTIC})


@dataclass(frozen=True, slots=True)
class Fault:
    """A failure the scenario asks for.

    kind: "status" (answer with HTTP `status` and the provider's real error body),
    "timeout" (never send headers), "midstream" (stream `after_chunks` chunks, then
    break the way the provider does: an in-band error event), "stall" (stream one
    chunk, then send nothing until the client goes away)."""

    kind: str
    status: int = 0
    after_chunks: int = 0


_MARKER = re.compile(r"\[\[agentopia-fault:(?P<kind>[a-z]+)(?:=(?P<n>\d+))?\]\]")


def fault_marker(fault: Fault) -> str:
    """The text an emulator looks for in the upstream request body."""
    if fault.kind == "status":
        return f"[[agentopia-fault:status={fault.status}]]"
    if fault.kind == "midstream":
        return f"[[agentopia-fault:midstream={fault.after_chunks}]]"
    return f"[[agentopia-fault:{fault.kind}]]"


def parse_marker(text: str) -> Fault | None:
    """For emulators: the fault a (translated) upstream request asks for, if any."""
    match = _MARKER.search(text)
    if match is None:
        return None
    kind, n = match["kind"], int(match["n"] or 0)
    if kind == "status":
        return Fault("status", status=n)
    if kind == "midstream":
        return Fault("midstream", after_chunks=n)
    return Fault(kind)


def inject_marker(body: dict[str, Any], fault: Fault) -> dict[str, Any]:
    """The default `inject`: append the marker to the last user message's text
    (message content survives every translation, so the emulator sees it)."""
    messages = [dict(m) for m in body.get("messages", [])]
    marker = fault_marker(fault)
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                message["content"] = f"{content} {marker}"
            else:
                message["content"] = [*(content or []), {"type": "text", "text": marker}]
            break
    result = {**body, "messages": messages}
    if "prompt" in body:
        result["prompt"] = f"{body['prompt']} {marker}"
    return result


@dataclass
class Built:
    """One adapter ready for a scenario."""

    adapter: Adapter
    model: str  # the upstream model id scenarios call
    credential: Credential | None = None
    # How to make this provider fail on demand (default: the text marker).
    inject: Callable[[dict[str, Any], Fault], dict[str, Any]] = inject_marker
    # Resolves once the upstream of a cancelled stream is closed (emulator saw the
    # disconnect, or the in-process stream was closed).
    upstream_closed: Callable[[], Awaitable[None]] | None = None


@dataclass(frozen=True)
class ProviderUnderTest:
    name: str
    # What the adapter declares (values of the one Capability enum).
    capabilities: frozenset[CapabilityValue]
    # Builds the adapter (and starts its emulator) with these upstream timeouts.
    build: Callable[[Timeouts], AbstractAsyncContextManager[Built]]
    # The provider's own words: what each upstream status means for it.
    vocabulary: Vocabulary = GENERIC
    # HARNESS_CAPABILITIES entries the harness can exercise for this entry.
    exercises: frozenset[str] = HARNESS_CAPABILITIES
    notes: str = field(default="")

    def has(self, capability: str | CapabilityValue) -> bool:
        if isinstance(capability, str):
            return capability in self.exercises
        return capability in self.capabilities


def label(capability: str | CapabilityValue) -> str:
    """How a skip names what is missing."""
    return capability if isinstance(capability, str) else short_name(capability)
