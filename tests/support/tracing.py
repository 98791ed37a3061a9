"""The process's one OpenTelemetry SDK tracer provider, for tests that record spans.

OpenTelemetry lets a process install its global tracer provider once; span
processors can be added to it at any time. Every test that records spans goes
through here, so the order in which test modules run does not matter."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.kernel import tracing

__all__ = ["installed_tracer_provider", "recording_exporter"]


def installed_tracer_provider() -> TracerProvider:
    if not tracing.tracing_active():
        trace.set_tracer_provider(TracerProvider())
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    return provider


def recording_exporter() -> InMemorySpanExporter:
    """A new in-memory exporter fed by the process's tracer provider."""
    exporter = InMemorySpanExporter()
    installed_tracer_provider().add_span_processor(SimpleSpanProcessor(exporter))
    return exporter
