"""With google/rpc/error_details.proto in the descriptor set (the change proposed
for tools/gen_protos.py), the transcoder renders a GatewayError's ErrorInfo and
the edge takes the OpenAI `code` and `type` from it."""

from __future__ import annotations

import dataclasses
import json
import pathlib
from collections.abc import AsyncIterator

import aiohttp
import pytest
from grpc_tools import protoc

from gateway.settings import REPO_ROOT, EdgeSettings
from tests.gateway.stubs import CLIENT_AUTH, KeyVaultStub, RouterStub, start_server
from tests.support.edge import Edge, run_edge


def descriptor_with_error_details(target: pathlib.Path) -> pathlib.Path:
    import google.api  # noqa: PLC0415
    import grpc_tools  # noqa: PLC0415

    protos = REPO_ROOT / "protos"
    api_root = pathlib.Path(next(iter(google.api.__path__))).parent.parent
    wkt_root = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    sources = sorted(str(p.relative_to(protos)) for p in protos.glob("agentopia/**/*.proto"))
    code = protoc.main(
        [
            "protoc",
            f"-I{protos}",
            f"-I{api_root}",
            f"-I{wkt_root}",
            f"--descriptor_set_out={target}",
            "--include_imports",
            *sources,
            "google/rpc/error_details.proto",
        ]
    )
    assert code == 0
    return target


@pytest.fixture(scope="module")
async def edge(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Edge]:
    descriptor = descriptor_with_error_details(tmp_path_factory.mktemp("pb") / "agentopia.pb")
    router_server, router_port = await start_server(RouterStub())
    kv_server, kv_port = await start_server(KeyVaultStub())
    settings = dataclasses.replace(EdgeSettings(console_dir=None), descriptor_path=descriptor)
    try:
        async with run_edge(router_port=router_port, keyvault_port=kv_port, settings=settings) as e:
            yield e
    finally:
        await router_server.stop(0)
        await kv_server.stop(0)


async def test_openai_error_takes_reason_and_type_from_error_info(edge: Edge) -> None:
    async with aiohttp.ClientSession(edge.url, headers=CLIENT_AUTH) as http:
        payload = {"model": "error-gateway", "messages": []}
        async with http.post("/v1/chat/completions", json=payload) as reply:
            body = json.loads(await reply.read())
            assert reply.status == 503
    assert body["error"] == {
        "message": "Provider down; retry in 5%.",
        "type": "server_error",
        "param": None,
        "code": "upstream_unavailable",
    }


async def test_admin_api_error_carries_error_info(edge: Edge) -> None:
    async with aiohttp.ClientSession(edge.url, headers=CLIENT_AUTH) as http:
        async with http.get("/agentopia/v1/client-keys/key_gateway_error") as reply:
            body = json.loads(await reply.read())
            assert reply.status == 404
    assert body["code"] == 5
    [info] = body["details"]
    assert info["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
    assert info["reason"] == "KEY_NOT_FOUND"
    assert info["metadata"]["type"] == "not_found_error"
