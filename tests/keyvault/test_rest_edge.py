"""The Key Management API as REST through the real Envoy edge (typed transcoding under
/agentopia/v1/): CRUD, rotate, usage, audit; 401/403 for missing and client keys."""

from __future__ import annotations

import secrets
from typing import Any

import aiohttp
import pytest

from tests.keyvault.conftest import ADMIN_KEY, Vault
from tests.support.edge import run_edge

pytestmark = pytest.mark.e2e


@pytest.fixture
def backend() -> str:
    return "sqlite"


def _get(body: dict[str, Any], snake: str) -> Any:
    """A field whichever JSON naming the edge prints (proto names or lowerCamelCase)."""
    head, *rest = snake.split("_")
    return body.get(snake, body.get(head + "".join(p.title() for p in rest)))


async def test_key_management_over_rest(vault: Vault) -> None:
    async with run_edge(keyvault_port=vault.running.port) as edge:
        base = f"{edge.url}/agentopia/v1"
        async with aiohttp.ClientSession() as http:

            async def call(
                method: str, path: str, token: str | None = ADMIN_KEY, **kw: Any
            ) -> tuple[int, Any]:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                async with http.request(method, base + path, headers=headers, **kw) as reply:
                    return reply.status, await reply.json(content_type=None)

            status, created = await call(
                "POST", "/client-keys", json={"name": "rest", "rpm_limit": 60, "budget_usd": "1"}
            )
            assert status == 200, created
            secret, key = created["secret"], created["key"]
            key_id = _get(key, "key_id")
            assert secret.startswith("sk-agp-") and _get(key, "rpm_limit") == 60

            status, listed = await call("GET", "/client-keys")
            assert status == 200 and key_id in str(listed) and secret not in str(listed)
            status, patched = await call(
                "PATCH", f"/client-keys/{key_id}?update_mask=team", json={"team": "search"}
            )
            assert status == 200 and _get(patched["key"], "team") == "search", patched

            assert (await call("GET", "/client-keys", token=None))[0] == 401
            assert (await call("GET", "/client-keys", token="sk-agp-unknown"))[0] == 401
            assert (await call("GET", "/client-keys", token=secret))[0] == 403  # a client key

            provider_secret = "sk-" + secrets.token_hex(16)
            status, provider = await call(
                "POST", "/provider-keys", json={"provider": "mock", "secret": provider_secret}
            )
            assert status == 200 and provider_secret not in str(provider), provider
            pkey = _get(provider["key"], "key_id")
            status, rotated = await call(
                "POST",
                f"/provider-keys/{pkey}:rotate",
                json={"secret": "sk-" + secrets.token_hex(16), "overlap": "60s"},
            )
            old_key = _get(rotated, "old_key")
            assert status == 200 and _get(old_key, "replaced_by") == _get(
                _get(rotated, "new_key"), "key_id"
            )
            status, usage = await call("GET", f"/provider-keys/{pkey}/usage")
            assert status == 200, usage
            status, audit = await call("GET", "/audit-events?page_size=5")
            assert status == 200 and "provider_key.rotate" in str(audit)
            status, _ = await call("POST", f"/client-keys/{key_id}:revoke", json={})
            assert status == 200
            assert (await call("DELETE", f"/client-keys/{key_id}"))[0] == 200
            assert (await call("GET", f"/client-keys/{key_id}"))[0] == 404
