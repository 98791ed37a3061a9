"""REST over HTTP/2 (h2c prior knowledge): the transcoder's grpc-* trailers are
removed too, and streams still flow chunk by chunk (curl is the HTTP/2 client)."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from tests.gateway.conftest import Mesh
from tests.gateway.stubs import CLIENT_AUTH, STREAM_CHUNKS

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl with HTTP/2")


async def curl(mesh: Mesh, body: str, *extra: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        "curl", "-sS", "-N", "-v", "--http2-prior-knowledge", *extra,
        f"{mesh.edge.url}/v1/chat/completions", "-H", "content-type: application/json",
        "-H", f"authorization: {CLIENT_AUTH['Authorization']}", "-d", body,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


def received_fields(verbose: str) -> list[str]:
    """Header and trailer lines curl printed (`< name: value`)."""
    return [line[2:].lower() for line in verbose.splitlines() if line.startswith("< ")]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ('{"model":"m","messages":[{"role":"user","content":"x"}]}', "200"),
        ('{"model":"m","stream":true}', "200"),
        ('{"model":"error-404"}', "404"),
        ('{"model":"error-plain"}', "503"),
    ],
)
async def test_no_grpc_headers_or_trailers_over_http2(mesh: Mesh, body: str, status: str) -> None:
    process = await curl(mesh, body)
    out, err = await process.communicate()
    fields = received_fields(err.decode())
    assert fields[0].startswith(f"http/2 {status}")
    assert not [f for f in fields if f.startswith(("grpc-", "x-envoy-", "x-agentopia-"))], fields
    if '"stream":true' in body:
        assert out == b"".join(STREAM_CHUNKS)


async def test_http2_streams_are_not_buffered(mesh: Mesh) -> None:
    """An endless stream's first event arrives: nothing waits for the end."""
    mesh.router.cancelled.clear()
    mesh.router.streaming.clear()
    process = await curl(mesh, '{"model":"endless","stream":true}')
    assert process.stdout is not None
    first = await process.stdout.readline()
    assert first.startswith(b"data: {")
    process.kill()
    await process.wait()
    await mesh.router.cancelled.wait()
