"""What other services may import of the provider service: the capability
vocabulary its ListProviders reply speaks (see capabilities.py)."""

from services.provider.client.capabilities import (
    ALL_CAPABILITIES,
    SHORT_NAMES,
    Capability,
    CapabilityValue,
    parse_capability,
    short_name,
)

__all__ = [
    "ALL_CAPABILITIES",
    "SHORT_NAMES",
    "Capability",
    "CapabilityValue",
    "parse_capability",
    "short_name",
]
