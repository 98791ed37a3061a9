"""The `groq` provider under test: the shared OpenAI-compatible adapter over real
HTTP against tests/emulators/openai_compat.py in Groq mode (Groq's path, error
bodies, x_groq usage, and its refusal of the parameters its docs list)."""

from __future__ import annotations

from services.provider.adapters import groq
from tests.provider.conformance.entry_openai import compat_entry

__all__ = ["ENTRY"]

ENTRY = compat_entry(
    groq.PROVIDER,
    flavor="groq",
    capabilities=groq.SPEC.capabilities,
    model="llama-3.3-70b-versatile",
    key="gsk_test_groq_conformance_0123456789",
)
