"""The router's code names no provider: providers are data (the registry files),
never branches. The word "OpenAI" may appear only as the name of the wire format
the router speaks (the OpenAI-compatible surface, OpenAI-shaped bodies)."""

from __future__ import annotations

import re
from pathlib import Path

from services.provider.registry import registered

ROUTER = Path(__file__).resolve().parents[2] / "services" / "router"
# Vendors not (yet) registered that must not creep in either.
UNREGISTERED = ("gemini", "vertex", "azure", "bedrock", "mistral", "cohere")
# The wire format, not a provider: the surface and the shape of its JSON.
PROTOCOL = re.compile(r"OpenAI(?:-compatible|-shaped|Compat\w*)")


def _provider_words() -> re.Pattern[str]:
    names = {spec.name for spec in registered(demo=True)} | set(UNREGISTERED)
    return re.compile(r"\b(" + "|".join(sorted(map(re.escape, names))) + r")\b", re.IGNORECASE)


def test_the_provider_registry_is_not_empty() -> None:
    assert len(registered(demo=True)) >= 2


def test_no_router_module_names_a_provider() -> None:
    words = _provider_words()
    found = [
        f"{path.relative_to(ROUTER)}:{number}: {line.strip()}"
        for path in sorted(ROUTER.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if words.search(PROTOCOL.sub("", line))
    ]
    assert found == []
