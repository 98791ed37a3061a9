"""The edge protects itself before any service is involved: a body is never read for
a request without a credential that could be a key, headers must arrive in time, and
memory, HTTP/2 streams and bodies are bounded."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator

import pytest

from gateway.envoy_config import render_bootstrap
from gateway.guards import INVALID_KEY_MESSAGE, MALFORMED_KEY_MESSAGE, MISSING_KEY_MESSAGE
from gateway.settings import EdgeSettings
from keyvault.client.keycache import KeyCache
from services.kernel.errors import GatewayError
from tests.gateway.conftest import Mesh
from tests.gateway.stubs import RouterStub, start_server
from tests.support.edge import Edge, run_edge

HANG_GUARD_S = 20.0  # bounds a hang; never asserted as a duration


async def _raw(edge: Edge, request: bytes) -> bytes:
    """Send raw HTTP/1.1 bytes; what comes back before the edge closes or 2 KB arrive."""
    reader, writer = await asyncio.open_connection("127.0.0.1", edge.port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(2048), HANG_GUARD_S)
    finally:
        writer.close()


def _body(reply: bytes) -> dict[str, object]:
    _head, _, body = reply.partition(b"\r\n\r\n")
    return json.loads(body)  # type: ignore[no-any-return]


def _post(path: str, *headers: str, length: int = 1_000_000) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: edge", "Content-Type: application/json", *headers]
    lines.append(f"Content-Length: {length}")
    # The headers and one byte of a body that never comes: only an answer given on
    # the headers alone can arrive.
    return ("\r\n".join(lines) + "\r\n\r\n{").encode()


async def test_no_credential_is_refused_before_the_body(mesh: Mesh) -> None:
    seen = len(mesh.router.bodies)
    reply = await _raw(mesh.edge, _post("/v1/chat/completions"))
    assert reply.startswith(b"HTTP/1.1 401 ")
    error = _body(reply)["error"]
    assert error == {
        "message": MISSING_KEY_MESSAGE,
        "type": "invalid_request_error",
        "param": None,
        "code": "missing_api_key",
    }
    assert len(mesh.router.bodies) == seen  # no service saw it


@pytest.mark.parametrize(
    ("credential", "code", "message"),
    [
        ("Authorization: Bearer short", "invalid_api_key", INVALID_KEY_MESSAGE),
        ("X-Api-Key: x", "invalid_api_key", INVALID_KEY_MESSAGE),
        ("Authorization: Basic dXNlcjpwYXNz", "malformed_api_key", MALFORMED_KEY_MESSAGE),
    ],
)
async def test_a_credential_that_cannot_be_a_key_is_refused_before_the_body(
    mesh: Mesh, credential: str, code: str, message: str
) -> None:
    reply = await _raw(mesh.edge, _post("/v1/chat/completions", credential))
    assert reply.startswith(b"HTTP/1.1 401 ")
    error = _body(reply)["error"]
    assert isinstance(error, dict)
    assert (error["code"], error["message"]) == (code, message)


async def test_the_messages_api_gets_its_own_shape(mesh: Mesh) -> None:
    reply = await _raw(mesh.edge, _post("/v1/messages"))
    assert reply.startswith(b"HTTP/1.1 401 ")
    assert _body(reply) == {
        "type": "error",
        "error": {"type": "authentication_error", "message": MISSING_KEY_MESSAGE},
    }


@pytest.mark.parametrize(
    "credential", ["Authorization: Bearer sk-agp-edge-test-key", "x-api-key: sk-ant-edge-key-1"]
)
async def test_a_plausible_key_reaches_the_router(mesh: Mesh, credential: str) -> None:
    seen = len(mesh.router.bodies)
    body = b'{"model":"m","messages":[{"role":"user","content":"hi"}]}'
    request = _post("/v1/chat/completions", credential, length=len(body))[:-1] + body
    reply = await _raw(mesh.edge, request)
    assert reply.startswith(b"HTTP/1.1 200 ")
    assert mesh.router.bodies[seen:] == [body]


@pytest.mark.parametrize(
    ("token", "code", "message"),
    [
        (None, "missing_api_key", MISSING_KEY_MESSAGE),
        ("", "malformed_api_key", MALFORMED_KEY_MESSAGE),
        ("sk-agp-nobody", "invalid_api_key", INVALID_KEY_MESSAGE),
    ],
)
def test_the_edge_and_the_router_say_the_same(token: str | None, code: str, message: str) -> None:
    keys = KeyCache()
    keys.ready.set()  # an empty snapshot: no key is valid
    with pytest.raises(GatewayError) as refused:
        keys.authenticate(token)
    assert (refused.value.code, refused.value.message) == (code, message)


@pytest.fixture(scope="module")
async def impatient_edge() -> AsyncIterator[Edge]:
    router = RouterStub()
    server, port = await start_server(router)
    settings = dataclasses.replace(EdgeSettings(console_dir=None), request_headers_timeout_s=1)
    try:
        async with run_edge(router_port=port, settings=settings) as edge:
            yield edge
    finally:
        await server.stop(0)


async def test_headers_that_trickle_in_are_cut_off(impatient_edge: Edge) -> None:
    """A slow-loris client sends a header line now and then, which used to keep the
    connection's idle timer from firing; the whole headers must arrive in time."""
    reader, writer = await asyncio.open_connection("127.0.0.1", impatient_edge.port)
    try:
        writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nHost: edge\r\n")
        await writer.drain()

        async def trickle() -> None:
            for n in range(200):
                await asyncio.sleep(0.25)
                writer.write(f"X-Slow-{n}: 1\r\n".encode())
                await writer.drain()

        dripping = asyncio.create_task(trickle())
        try:
            answer = await asyncio.wait_for(reader.read(2048), HANG_GUARD_S)
        finally:
            dripping.cancel()
        assert answer == b"" or answer.startswith(b"HTTP/1.1 408 ")
    finally:
        writer.close()


def test_memory_streams_and_headers_are_bounded_in_the_bootstrap() -> None:
    settings = EdgeSettings.from_env(
        {
            "AGENTOPIA_EDGE_MAX_HEAP_BYTES": str(512 << 20),
            "AGENTOPIA_EDGE_MAX_CONCURRENT_STREAMS": "64",
            "AGENTOPIA_EDGE_REQUEST_HEADERS_TIMEOUT_S": "5",
            "AGENTOPIA_EDGE_MAX_RESPONSE_BYTES": str(300 << 20),
        }
    )
    boot = render_bootstrap(settings)
    overload = boot["overload_manager"]
    heap = next(m for m in overload["resource_monitors"] if m["name"].endswith("fixed_heap"))
    assert heap["typed_config"]["max_heap_size_bytes"] == 512 << 20
    actions = {a["name"].rsplit(".", 1)[-1]: a["triggers"][0]["threshold"]["value"]
               for a in overload["actions"]}  # fmt: skip
    assert actions == {
        "shrink_heap": 0.90,
        "disable_http_keepalive": 0.92,
        "stop_accepting_requests": 0.95,
    }
    manager = boot["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    config = manager["typed_config"]
    assert config["http2_protocol_options"]["max_concurrent_streams"] == 64
    assert config["request_headers_timeout"] == "5s"
    transcoder = next(f for f in config["http_filters"] if "transcoder" in f["name"])
    assert transcoder["typed_config"]["max_request_body_size"] == 8 << 20  # the new default
    assert transcoder["typed_config"]["max_response_body_size"] == 300 << 20
