"""What upstream answers mean: the generic HTTP table, and each provider's own words.

The shared part is generic only: what each standard HTTP status means for our client,
the error `type`s of the OpenAI error format (the gateway's own wire format), the
`x-ratelimit-*` header convention, and a few named meanings (`OVERLOADED`,
`CAPACITY_EXCEEDED`, `QUOTA_EXHAUSTED`) whose stable codes the router acts on.
Everything a provider says in its own words — a status of its own, an error type or
code that changes the meaning, its rate-limit header prefix, the shape of its API
keys — is declared by that provider's spec as a `Vocabulary`, in its adapter folder.
Pure data and pure functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import grpc

__all__ = [
    "CAPACITY_EXCEEDED",
    "ERROR_TYPE_STATUS",
    "GENERIC",
    "OVERLOADED",
    "QUOTA_EXHAUSTED",
    "RATE_LIMIT_NAMES",
    "RATE_LIMIT_PREFIX",
    "UPSTREAM_RULES",
    "Refinement",
    "UpstreamRule",
    "Vocabulary",
    "rule_for",
    "status_for_type",
]

_S = grpc.StatusCode


@dataclass(frozen=True, slots=True)
class UpstreamRule:
    """How one upstream answer reaches our client."""

    code: str
    status: grpc.StatusCode
    http_status: int  # what the client sees (a provider 401 is our key's fault: 502)
    retryable: bool
    summary: str
    hint: str


_FIX = "Fix the request; retrying will not help."
_RETRY = "Retry the request."

# Standard HTTP statuses only.
UPSTREAM_RULES: Mapping[int, UpstreamRule] = MappingProxyType(
    {
        400: UpstreamRule(
            "upstream_bad_request",
            _S.INVALID_ARGUMENT,
            400,
            False,
            "rejected the request as invalid",
            _FIX,
        ),
        401: UpstreamRule(
            "provider_auth_failed",
            _S.FAILED_PRECONDITION,
            502,
            False,
            "rejected the gateway's provider credential",
            "The request was fine; an operator must fix the provider key.",
        ),
        403: UpstreamRule(
            "provider_permission_denied",
            _S.FAILED_PRECONDITION,
            502,
            False,
            "denied the gateway's provider credential access",
            "The request was fine; an operator must fix the provider account.",
        ),
        404: UpstreamRule(
            "upstream_not_found",
            _S.NOT_FOUND,
            404,
            False,
            "does not know the model or endpoint",
            "Check the model name and the deployment's upstream model id.",
        ),
        408: UpstreamRule("upstream_timeout", _S.DEADLINE_EXCEEDED, 504, True, "timed out", _RETRY),
        409: UpstreamRule(
            "upstream_conflict", _S.ABORTED, 409, True, "reported a conflict", _RETRY
        ),
        413: UpstreamRule(
            "upstream_payload_too_large",
            _S.INVALID_ARGUMENT,
            413,
            False,
            "rejected the request as too large",
            "Send a smaller request.",
        ),
        422: UpstreamRule(
            "upstream_unprocessable",
            _S.INVALID_ARGUMENT,
            422,
            False,
            "could not process the request",
            _FIX,
        ),
        429: UpstreamRule(
            "upstream_rate_limited",
            _S.RESOURCE_EXHAUSTED,
            429,
            True,
            "rate-limited the request",
            "Retry after the indicated delay.",
        ),
        500: UpstreamRule(
            "upstream_server_error",
            _S.UNAVAILABLE,
            502,
            True,
            "failed with an internal error",
            _RETRY,
        ),
        502: UpstreamRule(
            "upstream_bad_gateway", _S.UNAVAILABLE, 502, True, "answered with a bad gateway", _RETRY
        ),
        503: UpstreamRule(
            "upstream_unavailable", _S.UNAVAILABLE, 503, True, "is unavailable", _RETRY
        ),
        504: UpstreamRule(
            "upstream_gateway_timeout",
            _S.DEADLINE_EXCEEDED,
            504,
            True,
            "timed out at its gateway",
            _RETRY,
        ),
    }
)

# Named meanings a provider's own words may map to (the codes are the gateway's).
OVERLOADED = UpstreamRule(
    "upstream_overloaded",
    _S.UNAVAILABLE,
    503,
    True,
    "is overloaded",
    "Retry later or use another deployment.",
)
CAPACITY_EXCEEDED = UpstreamRule(
    "upstream_capacity_exceeded",
    _S.UNAVAILABLE,
    503,
    True,
    "has no capacity left",
    "Retry later or use another deployment.",
)
QUOTA_EXHAUSTED = UpstreamRule(
    "provider_quota_exhausted",
    _S.FAILED_PRECONDITION,
    502,
    False,
    "reports the gateway's provider account out of quota",
    "The request was fine; an operator must add provider credit.",
)

_CLIENT_ERROR = UpstreamRule(
    "upstream_client_error", _S.INVALID_ARGUMENT, 400, False, "rejected the request", _FIX
)
_SERVER_ERROR = UPSTREAM_RULES[500]
_UNEXPECTED = UpstreamRule(
    "upstream_unexpected_status",
    _S.UNAVAILABLE,
    502,
    False,
    "answered with an unexpected status",
    "Check the deployment's base URL.",
)

# The OpenAI error format's `type`s (the gateway's own wire format), and the HTTP
# status each stands for when an in-band stream error carries no status.
ERROR_TYPE_STATUS: Mapping[str, int] = MappingProxyType(
    {
        "invalid_request_error": 400,
        "authentication_error": 401,
        "permission_error": 403,
        "not_found_error": 404,
        "rate_limit_error": 429,
        "server_error": 500,
    }
)

# Rate-limit state travels in `x-ratelimit-*` headers by convention, plus Retry-After.
RATE_LIMIT_PREFIX = "x-ratelimit-"
RATE_LIMIT_NAMES = frozenset({"retry-after", "retry-after-ms"})

_NO_RULES: Mapping[int, UpstreamRule] = MappingProxyType({})
_NO_TYPES: Mapping[str, int] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Refinement:
    """A provider's error type or code that decides the meaning: matched against the
    error body's `type` and `code`, for any status or (`status`) for one only."""

    words: frozenset[str]
    rule: UpstreamRule
    status: int | None = None

    def matches(self, status: int, provider_type: str, provider_code: str) -> bool:
        if self.status is not None and status != self.status:
            return False
        return provider_type in self.words or provider_code in self.words


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """How one provider speaks beyond generic HTTP and the OpenAI error format.

    statuses: HTTP statuses with a meaning of their own (e.g. a 498 for "full").
    error_types: its error `type`s and the status each stands for in an in-band
        stream error (one that arrives after a 200).
    refinements: error types/codes that change the meaning of a status.
    rate_limit_prefixes: its rate-limit header prefixes beyond `x-ratelimit-`.
    key_prefixes: how its API keys begin, so that an echoed key is redacted.
    """

    statuses: Mapping[int, UpstreamRule] = field(default_factory=lambda: _NO_RULES)
    error_types: Mapping[str, int] = field(default_factory=lambda: _NO_TYPES)
    refinements: tuple[Refinement, ...] = ()
    rate_limit_prefixes: tuple[str, ...] = ()
    key_prefixes: tuple[str, ...] = ()


GENERIC = Vocabulary()


def rule_for(
    status: int,
    provider_type: str = "",
    provider_code: str = "",
    vocabulary: Vocabulary = GENERIC,
) -> UpstreamRule:
    """The meaning of an upstream status, refined by the provider's own words."""
    for refinement in vocabulary.refinements:
        if refinement.matches(status, provider_type, provider_code):
            return refinement.rule
    rule = vocabulary.statuses.get(status) or UPSTREAM_RULES.get(status)
    if rule is not None:
        return rule
    if 400 <= status < 500:
        return _CLIENT_ERROR
    if status >= 500:
        return _SERVER_ERROR
    return _UNEXPECTED


def status_for_type(provider_type: str, vocabulary: Vocabulary = GENERIC) -> int:
    """The status an in-band error's `type` stands for (500 when unknown)."""
    found = vocabulary.error_types.get(provider_type) or ERROR_TYPE_STATUS.get(provider_type)
    return found or 500
