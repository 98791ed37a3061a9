"""Native gRPC and typed REST transcoding on the same port, and the console files."""

from __future__ import annotations

import json
import pathlib

import aiohttp
import grpc
import pytest
from agentopia.v1 import (
    client_key_service_pb2,
    client_key_service_pb2_grpc,
    keyvault_types_pb2,
    openai_compat_service_pb2_grpc,
    routing_config_service_pb2,
    routing_config_service_pb2_grpc,
)
from google.api import httpbody_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.settings import EdgeSettings
from tests.gateway.conftest import Mesh
from tests.gateway.stubs import CLIENT_AUTH, STREAM_CHUNKS
from tests.support.edge import run_edge


async def test_native_health_check_through_the_edge(mesh: Mesh) -> None:
    async with grpc.aio.insecure_channel(mesh.edge.grpc_target) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_native_typed_calls_and_status_codes(mesh: Mesh) -> None:
    async with grpc.aio.insecure_channel(mesh.edge.grpc_target) as channel:
        stub = client_key_service_pb2_grpc.ClientKeyServiceStub(channel)
        created = await stub.CreateClientKey(
            client_key_service_pb2.CreateClientKeyRequest(
                name="grpc", role=keyvault_types_pb2.KEY_ROLE_CLIENT
            )
        )
        fetched = await stub.GetClientKey(
            client_key_service_pb2.GetClientKeyRequest(key_id=created.key.key_id)
        )
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await stub.GetClientKey(
                client_key_service_pb2.GetClientKeyRequest(key_id="key_missing")
            )
    assert fetched.key.name == "grpc"
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    assert missing.value.details() == "no key key_missing"


async def test_native_http_body_stream_and_error_metadata(mesh: Mesh) -> None:
    async with grpc.aio.insecure_channel(mesh.edge.grpc_target) as channel:
        stub = openai_compat_service_pb2_grpc.OpenAICompatServiceStub(channel)
        request = httpbody_pb2.HttpBody(
            content_type="application/json", data=b'{"model":"m","stream":true}'
        )
        chunks = [message.data async for message in stub.ChatCompletions(request)]
        failing = stub.ChatCompletions(httpbody_pb2.HttpBody(data=b'{"model":"error-429"}'))
        with pytest.raises(grpc.aio.AioRpcError) as limited:
            async for _ in failing:
                pass
    assert chunks == list(STREAM_CHUNKS)
    assert limited.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    trailing = dict(limited.value.trailing_metadata() or ())
    assert json.loads(trailing["x-agentopia-error"])["error"]["code"] == "rate_limited"  # untouched


async def test_unknown_grpc_service_is_unimplemented(mesh: Mesh) -> None:
    async with grpc.aio.insecure_channel(mesh.edge.grpc_target) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as unknown:
            await channel.unary_unary("/example.v1.Nope/Call")(b"")
    assert unknown.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_typed_rest_transcoding_of_the_key_vault(mesh: Mesh) -> None:
    async with aiohttp.ClientSession(mesh.edge.url, headers=CLIENT_AUTH) as http:
        create = {
            "name": "ci",
            "role": "KEY_ROLE_VIEWER",
            "allowed_models": ["mock/echo"],
            "unknown": 1,
        }
        async with http.post("/agentopia/v1/client-keys", json=create) as reply:
            assert reply.status == 200
            assert reply.headers["content-type"] == "application/json"
            created = json.loads(await reply.read())
        key_id = created["key"]["key_id"]
        async with http.get(f"/agentopia/v1/client-keys/{key_id}?include=all") as reply:
            fetched = json.loads(await reply.read())
        async with http.get("/agentopia/v1/client-keys?include_revoked=true") as reply:
            listed = json.loads(await reply.read())
    assert created["secret"] == "sk-agp-secret"
    key = fetched["key"]
    assert key["key_id"] == key_id  # preserve_proto_field_names
    assert key["role"] == "KEY_ROLE_VIEWER"  # enums by name
    assert key["allowed_models"] == ["mock/echo"]
    assert key["revoked"] is False and key["owner"] == ""  # always_print_primitive_fields
    assert key["create_time"] == "2023-11-14T22:13:20Z"
    assert key_id in {k["key_id"] for k in listed["keys"]}
    assert mesh.keyvault.keys[key_id].role == keyvault_types_pb2.KEY_ROLE_VIEWER


async def test_edge_health_route(mesh: Mesh) -> None:
    async with aiohttp.ClientSession(mesh.edge.url) as http, http.get("/healthz") as reply:
        assert reply.status == 200
        assert not [h for h in reply.headers if h.lower().startswith("x-envoy-")]


async def test_console_files_are_served(tmp_path: pathlib.Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>Agentopia</title>")
    (tmp_path / "assets" / "app.js").write_text("console.log('agentopia')")
    settings = EdgeSettings(console_dir=tmp_path)
    async with run_edge(settings=settings) as edge, aiohttp.ClientSession(edge.url) as http:
        async with http.get("/") as reply:
            assert reply.status == 200
            assert reply.headers["content-type"] == "text/html; charset=utf-8"
            assert await reply.text() == "<!doctype html><title>Agentopia</title>"
        async with http.get("/assets/app.js") as reply:
            assert reply.headers["content-type"] == "text/javascript; charset=utf-8"
            assert await reply.text() == "console.log('agentopia')"
        async with http.get("/missing.css") as reply:
            assert reply.status == 404


async def test_internal_methods_are_not_reachable_through_the_edge(mesh: Mesh) -> None:
    async with grpc.aio.insecure_channel(mesh.edge.grpc_target) as channel:
        stub = client_key_service_pb2_grpc.ClientKeyServiceStub(channel)
        watch = stub.WatchClientKeys(client_key_service_pb2.WatchClientKeysRequest(watcher="x"))
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            async for _ in watch:
                pass
        assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED
        routing_stub = routing_config_service_pb2_grpc.RoutingConfigServiceStub(channel)
        routing = routing_stub.WatchRoutingConfig(
            routing_config_service_pb2.WatchRoutingConfigRequest(watcher="x")
        )
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            async for _ in routing:
                pass
        assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await routing_stub.PutRoutingConfig(
                routing_config_service_pb2.PutRoutingConfigRequest(toml="x", expected_version=1)
            )
        assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED
