"""Pass-through parameters governed per client key: each changes where a request's
data goes or what it costs, so a key may send it only when an admin allowed it
(`ClientKey.allowed_parameters`; none by default).

- `store`: the provider keeps the request and response (OpenAI stored completions,
  Responses) — data retained by a third party.
- `service_tier`: a priced tier (OpenAI `priority`/`flex`/`scale`, Anthropic tiers).
- `metadata`: free-form key-value data forwarded to and kept by the provider.

A value that asks for nothing beyond the default is not governed: `store: false`,
`service_tier: "auto"`/`"default"`, empty or null `metadata`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import grpc

from services.kernel.errors import GatewayError

__all__ = ["GOVERNED_PARAMETERS", "require_parameters", "used_parameters"]

GOVERNED_PARAMETERS = ("store", "service_tier", "metadata")
_DEFAULT_TIERS = (None, "auto", "default")


def used_parameters(body: Mapping[str, Any]) -> tuple[str, ...]:
    """The governed parameters `body` sets to something other than the default."""
    used: list[str] = []
    if body.get("store") not in (None, False):
        used.append("store")
    if body.get("service_tier") not in _DEFAULT_TIERS:
        used.append("service_tier")
    if body.get("metadata"):
        used.append("metadata")
    return tuple(used)


def require_parameters(body: Mapping[str, Any], allowed: frozenset[str]) -> None:
    """Refuse the first governed parameter `body` uses that `allowed` lacks."""
    for name in used_parameters(body):
        if name not in allowed:
            raise GatewayError(
                grpc.StatusCode.PERMISSION_DENIED,
                "parameter_not_allowed",
                f"This API key may not send {name!r}; ask an admin to allow it on the key "
                "(allowed_parameters).",
                param=name,
                type="permission_error",
            )
