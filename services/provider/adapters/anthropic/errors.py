"""Anthropic failures through the provider service's one error table.

Anthropic's error body is `{"type": "error", "error": {"type", "message"}, "request_id"}`
(platform.claude.com/docs/en/api/errors); services/provider/errors.py reads that
shape, maps the status (and `overloaded_error` → 529) to the canonical error and
redacts secrets. An `event: error` inside a 200 stream carries the same body
without a status: its `error.type` stands for the status.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from services.kernel.errors import GatewayError
from services.provider import errors as canonical

__all__ = ["NAME", "http_error", "protocol_error", "stream_error"]

NAME = "anthropic"


def http_error(
    status: int, headers: Mapping[str, str], body: bytes, secrets: Iterable[str] = ()
) -> GatewayError:
    return canonical.upstream_error(
        provider=NAME, status=status, headers=headers, body=body, secrets=secrets
    )


def stream_error(payload: Mapping[str, Any], secrets: Iterable[str] = ()) -> GatewayError:
    return canonical.stream_error(provider=NAME, payload=payload, secrets=secrets)


def protocol_error(detail: str) -> GatewayError:
    return canonical.invalid_upstream_response(NAME, f"stream broke protocol: {detail}")
