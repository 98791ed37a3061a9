"""OpenTelemetry set-up: an OTLP exporter when the standard OTEL_* variables ask
for one, otherwise the API's no-op tracer (trace context still propagates).

gRPC spans and W3C context propagation come from
opentelemetry-instrumentation-grpc's aio interceptors (a well-kept library), so
one request is one trace across edge, router, provider and the upstream call.

Only the OpenTelemetry API is imported with this module. The SDK, the OTLP exporter
and the gRPC instrumentation are imported when tracing is configured (or a test
installs a tracer provider): a service that exports no spans never loads them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import grpc
from opentelemetry import trace

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

__all__ = [
    "client_interceptors",
    "configure_tracing",
    "server_interceptor",
    "shutdown_tracing",
    "tracing_active",
]

_HEALTH = "grpc.health.v1.Health"
_REFLECTION = "grpc.reflection.v1alpha.ServerReflection"


def _tracing_requested() -> bool:
    exporter = os.environ.get("OTEL_TRACES_EXPORTER", "")
    if exporter == "none":
        return False
    return bool(
        exporter
        or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def configure_tracing(service: str) -> TracerProvider | None:
    """Install an SDK tracer provider exporting over OTLP when configured."""
    if not _tracing_requested():
        return None
    # Imported here: the exporter pulls in its own gRPC client stack, the SDK its own.
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # noqa: PLC0415
        OTLPSpanExporter,
    )
    from opentelemetry.sdk.resources import Resource  # noqa: PLC0415
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
    from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415

    provider = TracerProvider(
        resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service)})
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


def shutdown_tracing(provider: TracerProvider | None) -> None:
    if provider is not None:
        provider.shutdown()


def tracing_active() -> bool:
    """Whether an SDK tracer provider is installed (by configure_tracing or a test).

    Without one, spans would be no-ops; the gRPC interceptors are then left out
    altogether, which saves about 55 µs of CPU per RPC per side (measured with
    grpc.aio 1.85 on this project's 2-core machine). The price: a service that
    exports no spans does not forward trace context either."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def _not_infrastructure() -> Callable[[Any], bool]:
    from opentelemetry.instrumentation.grpc.filters import negate, service_name  # noqa: PLC0415

    return negate(service_name(_HEALTH))


def server_interceptor(
    tracer_provider: trace.TracerProvider | None = None,
) -> grpc.aio.ServerInterceptor[Any, Any]:
    """Server spans for every RPC except health checks."""
    from opentelemetry.instrumentation.grpc import aio_server_interceptor  # noqa: PLC0415

    interceptor: grpc.aio.ServerInterceptor[Any, Any] = aio_server_interceptor(  # type: ignore[no-untyped-call]
        tracer_provider=tracer_provider, filter_=_not_infrastructure()
    )
    return interceptor


def client_interceptors(
    tracer_provider: trace.TracerProvider | None = None,
) -> Sequence[grpc.aio.ClientInterceptor]:
    """Client spans and `traceparent` injection for every outgoing RPC."""
    from opentelemetry.instrumentation.grpc import aio_client_interceptors  # noqa: PLC0415

    interceptors: Sequence[grpc.aio.ClientInterceptor] = aio_client_interceptors(  # type: ignore[no-untyped-call]
        tracer_provider=tracer_provider, filter_=_not_infrastructure()
    )
    return interceptors
