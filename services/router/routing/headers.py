"""The routing decision as compact, bounded response headers.

    x-agentopia-route: model=gpt-4o-mini; deployment=gpt-4o-mini; reason=auto-cost;
        retries=0; failovers=0; registry=3; why="auto: cheapest of 7 eligible (...)"
    x-agentopia-route-excluded: gpt-4o=max_input_price;claude-opus-4-5=capability:vision;+4

Values are printable ASCII (ids are validated by the registry; free text is
sanitised) and each header stays within MAX_HEADER_CHARS.
"""

from __future__ import annotations

from services.router.routing.selection import Decision

__all__ = ["EXCLUDED_HEADER", "MAX_HEADER_CHARS", "ROUTE_HEADER", "route_headers"]

ROUTE_HEADER = "x-agentopia-route"
EXCLUDED_HEADER = "x-agentopia-route-excluded"
MAX_HEADER_CHARS = 512


def route_headers(
    decision: Decision,
    *,
    model: str | None = None,
    deployment: str | None = None,
    retries: int = 0,
    failovers: int = 0,
) -> dict[str, str]:
    """Headers for a response; `model`/`deployment` are what actually served it
    (default: the primary model, deployment unknown before any attempt)."""
    served = model or decision.primary.id
    fields = [
        f"model={_clean(served)}",
        f"deployment={_clean(deployment or '-')}",
        f"reason={decision.reason_code}",
        f"retries={retries}",
        f"failovers={failovers}",
        f"registry={decision.registry_version}",
    ]
    head = "; ".join(fields)
    room = MAX_HEADER_CHARS - len(head) - len('; why=""')
    why = _clean(decision.reason)[: max(0, room)]
    headers = {ROUTE_HEADER: f'{head}; why="{why}"' if why else head}
    excluded = excluded_value(decision)
    if excluded:
        headers[EXCLUDED_HEADER] = excluded
    return headers


def excluded_value(decision: Decision) -> str:
    """`model=requirement;...`, cut to the bound with a `+N` count of the rest."""
    items = [f"{_clean(e.model)}={_clean(e.requirement)}" for e in decision.excluded]
    out: list[str] = []
    used = 0
    for index, item in enumerate(items):
        rest = len(items) - index
        suffix = len(f";+{rest}") if rest > 1 else 0
        if used + len(item) + 1 + suffix > MAX_HEADER_CHARS:
            out.append(f"+{rest}")
            break
        out.append(item)
        used += len(item) + 1
    return ";".join(out)


_DELIMITERS = str.maketrans('";=', "___")


def _clean(text: str) -> str:
    """Printable ASCII without the header's own delimiters."""
    if not (text.isascii() and text.isprintable()):
        text = "".join(c if " " <= c <= "~" else "_" for c in text)
    return text.translate(_DELIMITERS)
