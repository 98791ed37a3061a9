"""Client channels to other services: one long-lived channel per peer, traced,
presenting this workload's identity (mutual TLS, or its token on every call)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, cast

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.kernel import tls, tracing
from services.kernel.hosting import channel_options
from services.kernel.identity import IdentitySettings

__all__ = ["EOF", "identified", "open_channel", "raw_channel", "wait_until_serving"]

# The end-of-stream marker of `call.read()`; grpc-stubs does not declare it.
EOF: object = grpc.aio.EOF  # type: ignore[attr-defined]


def open_channel(
    target: str,
    *,
    max_message_bytes: int = 64 * 1024 * 1024,
    identity: IdentitySettings | None = None,
) -> grpc.aio.Channel:
    """A traced channel: mutual TLS when `identity` has certificates, else plaintext;
    every call carries `identity`'s token when it has one."""
    return identified(
        raw_channel(target, options=channel_options(max_message_bytes), identity=identity),
        identity,
    )


def raw_channel(
    target: str,
    *,
    options: Sequence[tuple[str, int | str]],
    identity: IdentitySettings | None = None,
) -> grpc.aio.Channel:
    """The channel itself (TLS per `identity`), without the token."""
    interceptors = tracing.client_interceptors() if tracing.tracing_active() else None
    chosen = list(options)
    if identity is None or not identity.mtls:
        return grpc.aio.insecure_channel(target, options=chosen, interceptors=interceptors)
    if identity.server_name:
        chosen.append(("grpc.ssl_target_name_override", identity.server_name))
    return grpc.aio.secure_channel(
        target, tls.channel_credentials(identity), options=chosen, interceptors=interceptors
    )


def identified(channel: grpc.aio.Channel, identity: IdentitySettings | None) -> grpc.aio.Channel:
    """`channel`, every call through it carrying `identity`'s token (as it is when
    there is none). A wrapper, not a client interceptor: an aio interceptor costs a
    task per call; this costs one function call and a tuple."""
    metadata = identity.call_metadata if identity is not None else ()
    if not metadata:
        return channel
    return cast("grpc.aio.Channel", _IdentifiedChannel(channel, metadata))


_Metadata = tuple[tuple[str, str | bytes], ...]


class _WithMetadata:
    """A multi-callable that adds the identity to the caller's metadata."""

    __slots__ = ("_call", "_metadata")

    def __init__(self, call: Any, metadata: _Metadata) -> None:
        self._call = call
        self._metadata = metadata

    def __call__(self, request: Any = None, *, metadata: Any = None, **kwargs: Any) -> Any:
        merged = self._metadata if not metadata else (*tuple(metadata), *self._metadata)
        if request is None:  # client-streaming calls take no request argument
            return self._call(metadata=merged, **kwargs)
        return self._call(request, metadata=merged, **kwargs)


class _IdentifiedChannel:
    """Delegates to a channel; the multi-callables it makes add the identity."""

    def __init__(self, channel: grpc.aio.Channel, metadata: _Metadata) -> None:
        self._channel = channel
        self._metadata = metadata

    def unary_unary(self, *args: Any, **kwargs: Any) -> _WithMetadata:
        return _WithMetadata(self._channel.unary_unary(*args, **kwargs), self._metadata)

    def unary_stream(self, *args: Any, **kwargs: Any) -> _WithMetadata:
        return _WithMetadata(self._channel.unary_stream(*args, **kwargs), self._metadata)

    def stream_unary(self, *args: Any, **kwargs: Any) -> _WithMetadata:
        return _WithMetadata(self._channel.stream_unary(*args, **kwargs), self._metadata)

    def stream_stream(self, *args: Any, **kwargs: Any) -> _WithMetadata:
        return _WithMetadata(self._channel.stream_stream(*args, **kwargs), self._metadata)

    async def __aenter__(self) -> _IdentifiedChannel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._channel.close(None)

    def __getattr__(self, name: str) -> Any:  # close, get_state, channel_ready, ...
        return getattr(self._channel, name)


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
