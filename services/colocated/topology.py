"""Which topology a mesh runs in: `split` (the router and the provider service as
separate processes, the default) or `colocated` (one process hosting both).

Read by what starts a mesh (`make run`, the test mesh); the services themselves do
not need it: the colocated process is `python -m services.colocated`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from services.kernel.config import ConfigError, env_str

__all__ = ["COLOCATED", "SPLIT", "TOPOLOGIES", "TOPOLOGY_VAR", "topology_from_env"]

TOPOLOGY_VAR: Final = "AGENTOPIA_TOPOLOGY"
SPLIT: Final = "split"
COLOCATED: Final = "colocated"
TOPOLOGIES: Final = (SPLIT, COLOCATED)


def topology_from_env(env: Mapping[str, str] | None = None) -> str:
    """`AGENTOPIA_TOPOLOGY` (unset or empty: split); anything else raises ConfigError."""
    value = env_str(TOPOLOGY_VAR, SPLIT, env)
    if value not in TOPOLOGIES:
        raise ConfigError(f"{TOPOLOGY_VAR} must be split or colocated, got {value!r}")
    return value
