"""Fixtures: stub servers and one real Envoy edge in front of them per module."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from tests.gateway.stubs import KeyVaultStub, RouterStub, start_server
from tests.support.edge import Edge, run_edge


@dataclass
class Mesh:
    edge: Edge
    router: RouterStub
    keyvault: KeyVaultStub


@pytest.fixture(scope="module")
async def mesh() -> AsyncIterator[Mesh]:
    router, keyvault = RouterStub(), KeyVaultStub()
    router_server, router_port = await start_server(router)
    kv_server, kv_port = await start_server(keyvault)
    try:
        async with run_edge(router_port=router_port, keyvault_port=kv_port) as edge:
            yield Mesh(edge, router, keyvault)
            lua_errors = [line for line in edge.log_text().splitlines() if '"logger":"lua"' in line]
            assert not lua_errors, lua_errors
    finally:
        await router_server.stop(0)
        await kv_server.stop(0)
