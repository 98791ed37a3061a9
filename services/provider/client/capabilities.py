"""The capability vocabulary, derived from the one proto enum.

`agentopia.v1.Capability` is the only definition: adapters declare their
capabilities with its values, ListProviders reports them, the router checks its
registry against them. TOML, JSON and REST spell a capability by its short
name: the value name without `CAPABILITY_`, lower-cased. `multiple_choices` is
also accepted as `n`, the OpenAI parameter that needs it (and the spelling the
registry files have always used).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TypeAlias

from agentopia.v1.capability_pb2 import Capability

__all__ = [
    "ALL_CAPABILITIES",
    "SHORT_NAMES",
    "Capability",
    "CapabilityValue",
    "parse_capability",
    "short_name",
]

# The type of one enum value (a plain int at run time).
CapabilityValue: TypeAlias = Capability.ValueType

_PREFIX = "CAPABILITY_"
_ALIASES = MappingProxyType({"n": Capability.CAPABILITY_MULTIPLE_CHOICES})


def short_name(capability: CapabilityValue) -> str:
    """`Capability.CAPABILITY_JSON_SCHEMA` → `"json_schema"`."""
    return Capability.Name(capability).removeprefix(_PREFIX).lower()


# Every real capability (the zero value is the proto's "unset", never declared).
ALL_CAPABILITIES: frozenset[CapabilityValue] = frozenset(
    value for value in Capability.values() if value != Capability.CAPABILITY_UNSPECIFIED
)

_BY_SHORT_NAME = MappingProxyType(
    {**{short_name(value): value for value in ALL_CAPABILITIES}, **_ALIASES}
)

# Every accepted spelling, aliases included.
SHORT_NAMES: frozenset[str] = frozenset(_BY_SHORT_NAME)


def parse_capability(name: str) -> CapabilityValue:
    """The capability spelled `name` (a short name or an alias); ValueError
    naming the known spellings otherwise."""
    try:
        return _BY_SHORT_NAME[name]
    except KeyError:
        known = ", ".join(sorted(SHORT_NAMES))
        raise ValueError(f"unknown capability {name!r}; known: {known}") from None
