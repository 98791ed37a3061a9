"""Client channels to other services: one long-lived channel per peer, traced."""

from __future__ import annotations

import asyncio

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.kernel import tracing
from services.kernel.hosting import channel_options

__all__ = ["EOF", "open_channel", "wait_until_serving"]

# The end-of-stream marker of `call.read()`; grpc-stubs does not declare it.
EOF: object = grpc.aio.EOF  # type: ignore[attr-defined]


def open_channel(target: str, *, max_message_bytes: int = 64 * 1024 * 1024) -> grpc.aio.Channel:
    """A traced insecure channel (mTLS is the mesh's job in production)."""
    return grpc.aio.insecure_channel(
        target,
        options=channel_options(max_message_bytes),
        interceptors=tracing.client_interceptors() if tracing.tracing_active() else None,
    )


async def wait_until_serving(
    channel: grpc.aio.Channel, service: str = "", *, interval_s: float = 0.2
) -> None:
    """Poll the peer's health service until it reports SERVING (no timeout: callers bound it)."""
    stub = health_pb2_grpc.HealthStub(channel)
    request = health_pb2.HealthCheckRequest(service=service)
    while True:
        try:
            reply = await stub.Check(request, timeout=2.0)
            if reply.status == health_pb2.HealthCheckResponse.SERVING:
                return
        except grpc.aio.AioRpcError:
            pass
        await asyncio.sleep(interval_s)
