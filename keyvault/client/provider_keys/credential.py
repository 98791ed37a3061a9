"""A provider API key as the provider service holds it in memory."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Credential"]


@dataclass(frozen=True, slots=True)
class Credential:
    """A provider API key; `secret` never appears in repr, logs or errors.

    `key_id` is the key vault's id for a leased key (`pkey_…`), or `env:<VAR>`
    for a key the provider service read from its environment."""

    key_id: str
    secret: str = field(repr=False)
