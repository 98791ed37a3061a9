import aiohttp, dataclasses, pathlib
from gateway.settings import EdgeSettings
from gateway.testing import run_edge
from tests.gateway.stubs import KeyVaultStub, start_server
async def test_x():
    server, port = await start_server(KeyVaultStub())
    s = dataclasses.replace(EdgeSettings(console_dir=None), descriptor_path=pathlib.Path("/tmp/agentopia_rpc.pb"))
    async with run_edge(keyvault_port=port, settings=s) as edge:
        async with aiohttp.ClientSession(edge.url) as c:
            async with c.get("/agentopia/v1/client-keys/key_gateway_error") as r:
                print(r.status, dict(r.headers), await r.read())
    await server.stop(0)
