"""Workload identities for tests: one fixed token per workload, the peer table of
their digests, and the settings or environment a service (or a test calling an
internal RPC as some workload) uses. Tokens are made per test session."""

from __future__ import annotations

import secrets
from types import MappingProxyType

from services.kernel.identity import IdentitySettings, token_digest
from services.kernel.peers import WORKLOADS

__all__ = ["PEERS", "TOKENS", "identity", "identity_env", "peers_value"]

TOKENS = MappingProxyType({name: secrets.token_urlsafe(32) for name in WORKLOADS})
PEERS = MappingProxyType({name: bytes.fromhex(token_digest(t)) for name, t in TOKENS.items()})


def peers_value() -> str:
    """`AGENTOPIA_IDENTITY_PEERS` for the test workloads."""
    return ",".join(f"{name}={digest.hex()}" for name, digest in PEERS.items())


def identity(name: str) -> IdentitySettings:
    """The identity of workload `name`, checking callers against the test peers."""
    return IdentitySettings(name, token=TOKENS[name], peers=PEERS)


def identity_env(name: str) -> dict[str, str]:
    """The same as environment variables (for a service started as a process)."""
    return {
        "AGENTOPIA_IDENTITY_NAME": name,
        "AGENTOPIA_IDENTITY_TOKEN": TOKENS[name],
        "AGENTOPIA_IDENTITY_PEERS": peers_value(),
    }
