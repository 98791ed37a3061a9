"""The benchmark's client key: created through the admin REST API like any user's,
with limits and a budget high enough never to refuse, so admission runs for real."""

from __future__ import annotations

import asyncio
import urllib.request

import orjson

__all__ = ["create_limited_key"]


def _create(edge_url: str, admin_key: str) -> str:
    body = orjson.dumps(
        {
            "name": "bench",
            "role": "KEY_ROLE_CLIENT",
            "rpm_limit": 10_000_000,
            "tpm_limit": 2_000_000_000,
            "budget_usd": "1000000",
            "budget_period": "BUDGET_PERIOD_MONTHLY",
        }
    )
    request = urllib.request.Request(
        f"{edge_url}/agentopia/v1/client-keys",
        data=body,
        headers={"Authorization": f"Bearer {admin_key}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        secret: str = orjson.loads(response.read())["secret"]
    return secret


async def create_limited_key(edge_url: str, admin_key: str, *, wait_s: float = 10.0) -> str:
    """Create the key, then wait until the router has it (keys are pushed, not looked up)."""
    secret = await asyncio.to_thread(_create, edge_url, admin_key)
    probe = urllib.request.Request(
        f"{edge_url}/v1/models", headers={"Authorization": f"Bearer {secret}"}
    )
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        try:
            await asyncio.to_thread(urllib.request.urlopen, probe, timeout=5)
            return secret
        except OSError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.1)
