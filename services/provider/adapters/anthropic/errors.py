"""Anthropic failures through the provider service's one error table, in Anthropic's words.

Anthropic's error body is `{"type": "error", "error": {"type", "message"}, "request_id"}`
(platform.claude.com/docs/en/api/errors): the OpenAI error format wrapped, which
services/provider/errors.py reads. What is Anthropic's own is declared here as its
`VOCABULARY`: the 529 status and the `overloaded_error` type (overloaded, whatever
the status), the error types an `event: error` inside a 200 stream carries in place
of a status, its `anthropic-ratelimit-*` headers and the `sk-ant-` key prefix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from services.kernel.errors import GatewayError
from services.provider import errors as canonical
from services.provider.redact import GENERIC_REDACTOR, Redactor
from services.provider.vocabulary import OVERLOADED, Refinement, Vocabulary

__all__ = ["NAME", "VOCABULARY", "http_error", "protocol_error", "stream_error"]

NAME = "anthropic"

VOCABULARY = Vocabulary(
    statuses=MappingProxyType({529: OVERLOADED}),
    error_types=MappingProxyType(
        {
            "request_too_large": 413,
            "api_error": 500,
            "timeout_error": 504,
            "overloaded_error": 529,
        }
    ),
    refinements=(Refinement(frozenset({"overloaded_error"}), OVERLOADED),),
    rate_limit_prefixes=("anthropic-ratelimit-",),
    key_prefixes=("sk-ant-",),
)


def http_error(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    secrets: Iterable[str] = (),
    redactor: Redactor = GENERIC_REDACTOR,
) -> GatewayError:
    return canonical.upstream_error(
        provider=NAME,
        status=status,
        headers=headers,
        body=body,
        secrets=secrets,
        vocabulary=VOCABULARY,
        redactor=redactor,
    )


def stream_error(
    payload: Mapping[str, Any],
    secrets: Iterable[str] = (),
    redactor: Redactor = GENERIC_REDACTOR,
) -> GatewayError:
    return canonical.stream_error(
        provider=NAME, payload=payload, secrets=secrets, vocabulary=VOCABULARY, redactor=redactor
    )


def protocol_error(detail: str) -> GatewayError:
    return canonical.invalid_upstream_response(NAME, f"stream broke protocol: {detail}")
