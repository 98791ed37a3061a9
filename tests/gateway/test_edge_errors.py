"""Errors at the edge: the router's x-agentopia-error contract, Envoy's own
replies on /v1/*, and header hygiene on every REST response."""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import AsyncIterator

import aiohttp
import openai
import pytest

from gateway.settings import EdgeSettings
from tests.gateway.conftest import Mesh
from tests.gateway.stubs import CLIENT_AUTH, RouterStub, start_server
from tests.support.edge import Edge, run_edge

CHAT = "/v1/chat/completions"
OPENAI_ERROR_KEYS = {"message", "type", "param", "code"}


def assert_clean_headers(headers: aiohttp.typedefs.LooseHeaders) -> None:
    names = {name.lower() for name in headers}  # type: ignore[union-attr]
    leaked = {n for n in names if n.startswith(("grpc-", "x-envoy-", "x-agentopia-"))}
    assert not leaked, leaked
    assert "x-request-id" in names


async def post(
    edge: Edge, payload: dict[str, object], path: str = CHAT
) -> tuple[int, dict[str, str], bytes]:
    async with (
        aiohttp.ClientSession(edge.url, headers=CLIENT_AUTH) as http,
        http.post(path, json=payload) as reply,
    ):
        return reply.status, dict(reply.headers), await reply.read()


def sdk(edge: Edge) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=edge.openai_base_url, api_key="sk-agp-test", max_retries=0)


async def test_router_error_header_becomes_the_body(mesh: Mesh) -> None:
    status, headers, body = await post(mesh.edge, {"model": "error-404", "messages": []})
    assert status == 404
    assert headers["Content-Type"] == "application/json"
    assert int(headers["Content-Length"]) == len(body)
    assert json.loads(body) == {
        "error": {
            "message": "The model 'nope' does not exist.",
            "type": "not_found_error",
            "param": "model",
            "code": "model_not_found",
        }
    }
    assert_clean_headers(headers)


async def test_http_status_header_overrides_and_retry_after_is_kept(mesh: Mesh) -> None:
    status, headers, body = await post(mesh.edge, {"model": "error-429", "messages": []})
    assert status == 429
    assert headers["Retry-After"] == "7"
    assert json.loads(body)["error"]["code"] == "rate_limited"
    assert_clean_headers(headers)
    # The override also wins when it differs from the gRPC code's mapping (400).
    status, _, body = await post(mesh.edge, {"model": "error-413", "messages": []})
    assert status == 413
    assert json.loads(body)["error"]["code"] == "request_too_large"


async def test_sdk_raises_the_right_exceptions(mesh: Mesh) -> None:
    async with sdk(mesh.edge) as client:
        with pytest.raises(openai.NotFoundError) as not_found:
            await client.chat.completions.create(model="error-404", messages=[])
        with pytest.raises(openai.NotFoundError):
            await client.chat.completions.create(model="error-404", messages=[], stream=True)
        with pytest.raises(openai.RateLimitError) as limited:
            await client.chat.completions.create(model="error-429", messages=[])
    assert not_found.value.code == "model_not_found"
    assert not_found.value.param == "model"
    assert limited.value.response.headers["retry-after"] == "7"


async def test_grpc_status_without_header_is_wrapped_openai_style(mesh: Mesh) -> None:
    status, headers, body = await post(mesh.edge, {"model": "error-plain", "messages": []})
    assert status == 503
    error = json.loads(body)["error"]
    assert error == {
        "message": 'upstream "down"; retry later',
        "type": "server_error",
        "param": None,
        "code": "service_unavailable",
    }
    assert_clean_headers(headers)


async def test_unary_http_body_errors(mesh: Mesh) -> None:
    """GET /v1/models and /v1/models/{id} are unary HttpBody RPCs."""
    async with openai.AsyncOpenAI(
        base_url=mesh.edge.openai_base_url, api_key="sk-agp-bad", max_retries=0
    ) as client:
        with pytest.raises(openai.AuthenticationError) as denied:
            await client.models.list()
    assert denied.value.code == "invalid_api_key"
    async with (
        aiohttp.ClientSession(mesh.edge.url, headers=CLIENT_AUTH) as http,
        http.get("/v1/models/missing") as reply,
    ):
        body = json.loads(await reply.read())
        assert reply.status == 404
        assert_clean_headers(reply.headers)
    assert body["error"]["message"] == "no model 'missing' (100% sure)"  # grpc-message, decoded
    assert body["error"]["code"] == "not_found"


async def test_gateway_error_without_an_openai_body_is_wrapped_from_its_status(
    mesh: Mesh,
) -> None:
    """A GatewayError (Status with ErrorInfo) that sets no x-agentopia-error: the
    transcoder renders the Status (error_details.proto is in the descriptor set) and
    the edge takes the stable code from ErrorInfo.reason."""
    status, headers, body = await post(mesh.edge, {"model": "error-gateway", "messages": []})
    assert status == 503
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["error"] == {
        "message": "Provider down; retry in 5%.",
        "type": "server_error",
        "param": None,
        "code": "upstream_unavailable",
    }
    assert_clean_headers(headers)
    async with aiohttp.ClientSession(mesh.edge.url, headers=CLIENT_AUTH) as http:
        async with http.get("/agentopia/v1/client-keys/key_gateway_error") as reply:
            admin = json.loads(await reply.read())
            assert reply.status == 404
            assert reply.headers["content-type"] == "application/json"
            assert_clean_headers(reply.headers)
    assert admin["code"] == 5 and admin["message"] == "No such key."
    assert admin["details"][0]["reason"] == "KEY_NOT_FOUND"


async def test_unknown_openai_path_is_an_openai_404(mesh: Mesh) -> None:
    async with (
        aiohttp.ClientSession(mesh.edge.url, headers=CLIENT_AUTH) as http,
        http.get("/v1/embeddings/x?a=1") as reply,
    ):
        body = json.loads(await reply.read())
        assert reply.status == 404
        assert_clean_headers(reply.headers)
    assert set(body["error"]) == OPENAI_ERROR_KEYS
    assert body["error"]["message"] == "Invalid URL (GET /v1/embeddings/x?a=1)"
    assert body["error"]["type"] == "not_found_error"


async def test_admin_api_errors_keep_google_rpc_status(mesh: Mesh) -> None:
    async with (
        aiohttp.ClientSession(mesh.edge.url, headers=CLIENT_AUTH) as http,
        http.get("/agentopia/v1/client-keys/key_none") as reply,
    ):
        body = json.loads(await reply.read())
        assert reply.status == 404
        assert_clean_headers(reply.headers)
    assert body["code"] == 5 and body["message"] == "no key key_none"


async def test_success_and_stream_headers_are_clean(mesh: Mesh) -> None:
    for payload in (
        {"model": "m", "messages": [{"role": "user", "content": "x"}]},
        {"model": "m", "stream": True},
    ):
        status, headers, _ = await post(mesh.edge, payload)
        assert status == 200
        assert_clean_headers(headers)


@pytest.fixture(scope="module")
async def small_edge() -> AsyncIterator[tuple[Edge, RouterStub]]:
    """An edge with a 64 KiB body limit in front of a router stub."""
    router = RouterStub()
    server, port = await start_server(router)
    settings = dataclasses.replace(EdgeSettings(console_dir=None), max_body_bytes=64 * 1024)
    try:
        async with run_edge(router_port=port, settings=settings) as edge:
            yield edge, router
    finally:
        await server.stop(0)


async def test_oversize_body_is_an_openai_413(small_edge: tuple[Edge, RouterStub]) -> None:
    edge, router = small_edge
    payload = {"model": "m", "messages": [{"role": "user", "content": "x" * 70_000}]}
    status, headers, body = await post(edge, payload)
    assert status == 413
    error = json.loads(body)["error"]
    assert error["code"] == "request_too_large"
    assert error["type"] == "invalid_request_error"
    assert "65536 bytes" in error["message"]
    assert_clean_headers(headers)
    assert router.bodies == []  # never reached the service
    async with sdk(edge) as client:
        with pytest.raises(openai.APIStatusError) as too_big:
            await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "x" * 70_000}]
            )
    assert too_big.value.status_code == 413


async def test_oversize_chunked_body_is_an_openai_413(small_edge: tuple[Edge, RouterStub]) -> None:
    edge, _ = small_edge

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b" " * 8192

    async with (
        aiohttp.ClientSession(edge.url, headers=CLIENT_AUTH) as http,
        http.post(CHAT, data=chunks()) as reply,
    ):
        assert reply.status == 413
        assert json.loads(await reply.read())["error"]["code"] == "request_too_large"


async def test_large_body_under_the_default_limit_arrives_intact(mesh: Mesh) -> None:
    """Envoy's stock buffer limits would 413 a 3 MB body and reset a 12 MB one; ours
    (the body limit plus headroom) let a 7.5 MB body (under the 8 MiB default) through
    whole."""
    content = "y" * 7_500_000
    raw = json.dumps({"model": "m", "messages": [{"role": "user", "content": content}]}).encode()
    async with aiohttp.ClientSession(mesh.edge.url, headers=CLIENT_AUTH) as http:
        async with http.post(
            CHAT, data=io.BytesIO(raw), headers={"content-type": "application/json"}
        ) as reply:
            assert reply.status == 200
            await reply.read()
    assert mesh.router.bodies[-1] == raw


async def test_envoy_503_when_the_router_is_down_is_openai_shaped() -> None:
    async with run_edge(router_port=None) as edge:
        status, headers, body = await post(edge, {"model": "m", "messages": []})
        async with sdk(edge) as client:
            with pytest.raises(openai.InternalServerError) as unavailable:
                await client.models.list()
    assert status == 503
    error = json.loads(body)["error"]
    assert set(error) == OPENAI_ERROR_KEYS
    assert error["code"] == "service_unavailable"
    assert error["type"] == "server_error"
    assert_clean_headers(headers)
    assert unavailable.value.status_code == 503
