"""Composition root of the colocated process: the provider side first (its adapters
built and its key lease started, as `services.provider` builds them), then the
router composed around an in-process channel to it, then the ProviderService added
to the router's host so the same port serves it to the key vault.

One host: one port, one health service reporting every hosted service (all SERVING
once the lease, the router's first provider list and client keys have arrived, all
NOT_SERVING at the drain), one drain within the router's grace. One Prometheus
registry: the router's instruments and the provider's key health on one /metrics.
"""

from __future__ import annotations

from typing import cast

import grpc
from prometheus_client import REGISTRY, CollectorRegistry

from services.colocated.config import ColocatedConfig
from services.kernel.inprocess import InProcessChannel
from services.kernel.service import Lifecycle, Service
from services.provider.server import SERVICE_NAME, build
from services.router.server import compose as compose_router

__all__ = ["compose"]


async def compose(
    config: ColocatedConfig, life: Lifecycle, *, metrics_registry: CollectorRegistry = REGISTRY
) -> Service:
    """The router and the provider service, ready to serve on the router's address.
    `metrics_registry` holds both services' instruments (in-process tests give each
    composition its own)."""
    provider = await build(config.provider, life, metrics_registry=metrics_registry)
    channel = InProcessChannel()
    # The in-process channel stands in for a server when the generated code registers
    # the servicer, and for a channel when the generated stub is built on it.
    provider.register(cast("grpc.aio.Server", channel))
    service = await compose_router(
        config.router,
        life,
        metrics_registry=metrics_registry,
        provider_channel=cast("grpc.aio.Channel", channel),
        provider_ready=provider.ready,
    )
    service.host.add(SERVICE_NAME, provider.register)
    return service
