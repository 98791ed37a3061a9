"""Rate-limit headroom from a provider's response headers, by header shape alone (no
provider names): any `...ratelimit...` header naming requests or tokens and a limit,
remaining count or reset time, e.g. `x-ratelimit-remaining-requests: 499`,
`...-ratelimit-tokens-reset: 2026-01-01T00:00:30Z`, `x-ratelimit-reset-tokens: 6m0s`."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

from agentopia.v1 import provider_key_service_pb2 as kv_pb2

__all__ = ["headroom_from_headers", "parse_reset"]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_reset(value: str, now: dt.datetime) -> dt.datetime | None:
    """ "6m0s" / "20ms" / "1.5" (seconds) / an RFC 3339 time -> when the window resets."""
    text = value.strip()
    try:
        return now + dt.timedelta(seconds=float(text))
    except ValueError:
        pass
    parts = _DURATION.findall(text)
    if parts and "".join(n + u for n, u in parts) == text:
        return now + dt.timedelta(seconds=sum(float(n) * _UNIT_SECONDS[u] for n, u in parts))
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _classify(name: str) -> tuple[str, str] | None:
    lowered = name.lower()
    if "ratelimit" not in lowered:
        return None
    rest = lowered.split("ratelimit", 1)[1]
    if "input" in rest or "output" in rest:
        return None  # split token budgets; the combined one is enough for headroom
    kind = "requests" if "request" in rest else "tokens" if "token" in rest else ""
    field = next((f for f in ("remaining", "reset", "limit") if f in rest), "")
    return (kind, field) if kind and field else None


def headroom_from_headers(
    headers: Mapping[str, str], now: dt.datetime | None = None
) -> kv_pb2.RateLimitHeadroom | None:
    """The headroom the headers describe, or None when they carry no rate-limit state."""
    now = now or dt.datetime.now(dt.UTC)
    headroom = kv_pb2.RateLimitHeadroom()
    resets: list[dt.datetime] = []
    found = False
    for name, value in headers.items():
        shape = _classify(name)
        if shape is None:
            continue
        kind, field = shape
        if field == "reset":
            moment = parse_reset(value, now)
            if moment is not None:
                resets.append(moment)
            continue
        try:
            number = int(float(value))
        except ValueError:
            continue
        setattr(headroom, f"{field}_{kind}", max(0, number))
        found = True
    if not found:
        return None
    if resets:
        headroom.reset_time.FromDatetime(max(resets))
    headroom.observe_time.FromDatetime(now)
    return headroom
