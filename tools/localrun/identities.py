"""Workload identities for `make run`: a new token per service per run, never written
to disk, and the peer table (their SHA-256 digests) every service checks callers with.

All programs share one environment, so each finds its own token under its name
(`AGENTOPIA_IDENTITY_TOKEN_<NAME>`) and its name in its program's environment."""

from __future__ import annotations

import secrets
from collections.abc import MutableMapping

from services.kernel.identity import token_digest
from services.kernel.peers import WORKLOADS

__all__ = ["PEERS_VAR", "token_var", "with_identities"]

PEERS_VAR = "AGENTOPIA_IDENTITY_PEERS"


def token_var(name: str) -> str:
    return f"AGENTOPIA_IDENTITY_TOKEN_{name.upper()}"


def with_identities(env: MutableMapping[str, str]) -> None:
    """Give every workload a token (the caller's when set) and require identities."""
    tokens = {}
    for name in WORKLOADS:
        tokens[name] = env.get(token_var(name)) or secrets.token_urlsafe(32)
        env[token_var(name)] = tokens[name]
    env.setdefault(PEERS_VAR, ",".join(f"{n}={token_digest(t)}" for n, t in tokens.items()))
    env.setdefault("AGENTOPIA_IDENTITY_REQUIRED", "true")
