"""Capabilities as the routing library handles them: values of the one
`agentopia.v1.Capability` enum, read from and written as their short names.

The vocabulary itself is the provider service's (its client package derives
it from the proto enum); this module only parses a list of spellings, as the
registry file and a client's stated requirements give them, and spells a set
back in a stable order for headers, errors and model objects.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.provider.client import (
    SHORT_NAMES,
    Capability,
    CapabilityValue,
    parse_capability,
    short_name,
)

__all__ = [
    "CHAT",
    "COMPLETIONS",
    "EMBEDDINGS",
    "JSON_MODE",
    "JSON_SCHEMA",
    "LOGPROBS",
    "MULTIPLE_CHOICES",
    "STREAMING",
    "TOOLS",
    "VISION",
    "Capabilities",
    "Capability",
    "CapabilityValue",
    "known_spellings",
    "parse_capabilities",
    "spell",
    "spell_all",
]

Capabilities = frozenset[CapabilityValue]

CHAT = Capability.CAPABILITY_CHAT
COMPLETIONS = Capability.CAPABILITY_COMPLETIONS
STREAMING = Capability.CAPABILITY_STREAMING
TOOLS = Capability.CAPABILITY_TOOLS
VISION = Capability.CAPABILITY_VISION
JSON_MODE = Capability.CAPABILITY_JSON_MODE
JSON_SCHEMA = Capability.CAPABILITY_JSON_SCHEMA
LOGPROBS = Capability.CAPABILITY_LOGPROBS
MULTIPLE_CHOICES = Capability.CAPABILITY_MULTIPLE_CHOICES
EMBEDDINGS = Capability.CAPABILITY_EMBEDDINGS


def parse_capabilities(names: Iterable[str]) -> Capabilities:
    """The capabilities spelled `names`; ValueError naming the first unknown spelling
    and the known ones."""
    return frozenset(parse_capability(name) for name in names)


def spell(capability: CapabilityValue) -> str:
    """The short name: `json_schema` for `CAPABILITY_JSON_SCHEMA`."""
    return short_name(capability)


def spell_all(capabilities: Iterable[CapabilityValue]) -> list[str]:
    """Short names in alphabetical order (what model objects and messages show)."""
    return sorted(short_name(capability) for capability in capabilities)


def known_spellings() -> str:
    return ", ".join(sorted(SHORT_NAMES))
