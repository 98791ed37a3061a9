"""The lifecycle every service shares: a grpc.aio server with health, reflection
and tracing, SERVING only once the service says it is ready, and a graceful
drain on SIGTERM/SIGINT (NOT_SERVING first, then in-flight RPCs finish).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from services.kernel import tls, tracing
from services.kernel.config import ConfigError
from services.kernel.identity import IdentitySettings, PeerCheck, Verifier
from services.kernel.interceptor import ErrorInterceptor, MetadataRenderer
from services.kernel.peers import callers_of

__all__ = ["ServiceHost", "channel_options", "server_options"]

_log = logging.getLogger(__name__)

Registrar = Callable[[grpc.aio.Server], None]
_Status = health_pb2.HealthCheckResponse.ServingStatus.ValueType


# What these options cost, measured (grpc.aio 1.85 on uvloop, loopback, this project's
# 2-core machine): no option here changes the CPU of a unary call (~110 µs client,
# ~140 µs server) or of a 20-message stream beyond the run-to-run noise of ±15%;
# turning off BDP probing or using gRPC's minimal stack bought nothing measurable
# either, so both keep gRPC's defaults. Idle, the keepalive pings are one ping per
# channel every 20 s, handled in gRPC's C core: no Python runs for them.


def server_options(max_message_bytes: int) -> list[tuple[str, int]]:
    # gRPC's own limit answers RESOURCE_EXHAUSTED, which the edge would turn
    # into a retryable 429; services reject oversize bodies themselves instead.
    return [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.so_reuseport", 0),
        # Accept the peers' keepalive pings (below) on idle watch streams, and any
        # ping no more often than every 5 s, so a misconfigured peer cannot keep a
        # service busy answering pings.
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
    ]


def channel_options(max_message_bytes: int) -> list[tuple[str, int]]:
    return [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        # The watches (client keys, provider keys, routing config) are streams that
        # stay silent for hours: a ping every 20 s, answered within 10 s, finds a peer
        # that vanished without closing its connection in at most 30 s, at the cost
        # of one tiny frame per channel every 20 s.
        ("grpc.keepalive_time_ms", 20_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
        # Every caller decides itself whether to retry (failover, the recorder's
        # backoff); gRPC's own retries stay off, so no call is replayed behind its back.
        ("grpc.enable_retries", 0),
    ]


def _publish_port(port: int) -> None:
    """Write the bound port where a supervisor asked for it (listen on port 0 in tests)."""
    path = os.environ.get("AGENTOPIA_PORT_FILE")
    if path:
        staging = f"{path}.tmp"
        with open(staging, "w", encoding="ascii") as handle:
            handle.write(str(port))
        os.replace(staging, path)


class ServiceHost:
    """Owns one grpc.aio server: register services, start, mark ready, drain."""

    def __init__(
        self,
        name: str,
        *,
        max_message_bytes: int = 64 * 1024 * 1024,
        interceptors: Sequence[grpc.aio.ServerInterceptor[Any, Any]] = (),
        error_metadata: MetadataRenderer | None = None,
        identity: IdentitySettings | None = None,
    ) -> None:
        self.name = name
        self.identity = identity or IdentitySettings(name)
        # Internal methods check their caller's workload identity inside the error
        # interceptor (no extra interceptor hop per call); public ones pay nothing.
        self.verifier = Verifier(self.identity)
        checks = self._check_of if self.verifier.enforced else None
        self.health = HealthServicer()
        # The order is declared here once: tracing (health excluded), then the
        # service's own interceptors (identity, request context), then error mapping
        # innermost, so every exception a servicer raises becomes one status.
        traced = [tracing.server_interceptor()] if tracing.tracing_active() else []
        self.server = grpc.aio.server(
            interceptors=[*traced, *interceptors, ErrorInterceptor(name, error_metadata, checks)],
            options=server_options(max_message_bytes),
        )
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self._services: list[str] = []
        self._stopping = asyncio.Event()
        self._ready_failure: BaseException | None = None

    def _check_of(self, method: str) -> PeerCheck | None:
        allowed = callers_of(method)
        return None if allowed is None else self.verifier.check_for(method, allowed)

    def add(self, full_name: str, register: Registrar) -> None:
        """Register one servicer; `full_name` is e.g. `agentopia.v1.ProviderService`."""
        register(self.server)
        self._services.append(full_name)

    async def start(self, address: str) -> int:
        """Bind and start serving (NOT_SERVING until `mark_serving`); returns the port."""
        reflection.enable_server_reflection(
            [
                *self._services,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ],
            self.server,
        )
        if self.identity.mtls:
            port = self.server.add_secure_port(address, tls.server_credentials(self.identity))
        else:
            port = self.server.add_insecure_port(address)
        if port == 0:
            raise OSError(f"{self.name}: cannot bind {address}")
        await self._set_all(health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.server.start()
        _log.info("%s listening on port %d", self.name, port)
        _publish_port(port)
        return port

    async def mark_serving(self) -> None:
        await self._set_all(health_pb2.HealthCheckResponse.SERVING)
        _log.info("%s is SERVING", self.name)

    async def stop(self, grace_seconds: float) -> None:
        """NOT_SERVING at once, then let in-flight RPCs finish within the grace."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace_seconds)
        _log.info("%s stopped", self.name)

    def request_stop(self) -> None:
        self._stopping.set()

    def fail(self, failure: BaseException) -> None:
        """Stop serving and make `run` raise `failure`: a process that lost a part it
        cannot serve correctly without exits non-zero, so its supervisor (Kubernetes,
        `make run`) restarts it, rather than answering from stale state."""
        if self._ready_failure is None:
            self._ready_failure = failure
        self.request_stop()

    async def run(
        self,
        address: str,
        *,
        ready: Callable[[], Awaitable[None]] | None = None,
        cleanup: Callable[[], Awaitable[None]] | None = None,
        grace_seconds: float = 10.0,
    ) -> None:
        """Serve until SIGTERM/SIGINT. `ready` waits for dependencies before SERVING."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        await self.start(address)
        ready_task = asyncio.create_task(self._become_ready(ready))
        try:
            await self._stopping.wait()
        finally:
            ready_task.cancel()
            _log.info("%s draining (grace %.1fs)", self.name, grace_seconds)
            await self.stop(grace_seconds)
            if cleanup is not None:
                await cleanup()
        if self._ready_failure is not None:
            # The process must not exit 0 when it never became ready.
            raise self._ready_failure

    async def _become_ready(self, ready: Callable[[], Awaitable[None]] | None) -> None:
        try:
            if ready is not None:
                await ready()
        except Exception as failure:
            # A readiness failure must not leave a process NOT_SERVING forever, silently.
            # A configuration error is reported once, as one line, by the entry point.
            if not isinstance(failure, ConfigError):
                _log.exception("%s failed to become ready; stopping", self.name)
            self._ready_failure = failure
            self.request_stop()
            return
        await self.mark_serving()

    async def _set_all(
        self, status: health_pb2.HealthCheckResponse.ServingStatus.ValueType
    ) -> None:
        for service in ("", *self._services):
            await self.health.set(service, status)
