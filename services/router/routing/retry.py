"""When to try again, how long to wait, and how much retrying a router may do.

Classification of a failed attempt (`classify`):
- RETRY: transient or not the client's doing — `retryable` errors (429, 5xx,
  529 overloaded, connect failures), timeouts, an open circuit, and our own
  provider-credential failures (401/403/quota: another deployment or provider,
  with another key, can serve the request). The planner moves to another
  deployment of the model, then along the fallback chain.
- LARGER_CONTEXT: the provider says the prompt does not fit: only a model with
  a larger window can help.
- FINAL: the client's request is at fault (400, 404, 413, 422, ...): the same
  answer would come from everywhere, so it goes straight back.

A stream may be retried or failed over only while nothing has reached the
client (`may_retry`). Backoff is exponential with full jitter and honours a
Retry-After up to `max_retry_after_s`. The token-bucket `RetryBudget` keeps
same-model retries to `ratio` of requests plus a small floor, so retries cannot
multiply load on a struggling upstream; failovers along the chain are bounded
by `max_attempts` and by the circuit breakers instead (see plan.py).
"""

from __future__ import annotations

import enum
import random
import re
from collections.abc import Callable
from dataclasses import dataclass

import grpc

from services.kernel.errors import GatewayError

__all__ = [
    "Disposition",
    "RetryBudget",
    "RetryPolicy",
    "classify",
    "counts_against_health",
    "is_total_timeout",
    "may_retry",
    "maybe_billed_failure",
]


class Disposition(enum.StrEnum):
    RETRY = "retry"
    LARGER_CONTEXT = "larger_context"
    FINAL = "final"


CONTEXT_CODES = frozenset(
    {"context_length_exceeded", "context_window_exceeded", "model_context_window_exceeded"}
)
_CONTEXT_TEXT = re.compile(
    r"context[ _](length|window)|prompt is too long|maximum context|too many (input )?tokens",
    re.IGNORECASE,
)
# Our side's problems: the provider key, account or configuration.
_OPERATOR_CODES = frozenset(
    {
        "provider_auth_failed",
        "provider_permission_denied",
        "provider_quota_exhausted",
        "provider_not_configured",
        "provider_not_found",
        "credential_not_found",
    }
)
_TRANSIENT_STATUS = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.ABORTED}
)


def classify(error: GatewayError) -> Disposition:
    if is_total_timeout(error):
        # The generation outlived its limit: the upstream did the work (and may bill
        # it); running it again elsewhere would double the spend for the same end.
        return Disposition.FINAL
    if _is_context_error(error):
        return Disposition.LARGER_CONTEXT
    if error.retryable or error.status in _TRANSIENT_STATUS or error.code in _OPERATOR_CODES:
        return Disposition.RETRY
    if error.code in ("circuit_open", "no_healthy_deployment"):
        return Disposition.RETRY
    return Disposition.FINAL


def is_operator_error(error: GatewayError) -> bool:
    """Our provider key/account/config is at fault: repeating the call cannot help."""
    return error.code in _OPERATOR_CODES


def rate_limit_wait(error: GatewayError) -> float | None:
    """The Retry-After of an upstream rate limit (429), if it gave one."""
    limited = error.status is grpc.StatusCode.RESOURCE_EXHAUSTED or error.http_status == 429
    return error.retry_after_s if limited else None


def counts_against_health(error: GatewayError) -> bool:
    """Does this failure say something is wrong with the deployment (breaker food)?"""
    return classify(error) is Disposition.RETRY


# Failures after which the upstream may have generated (and billed) an answer nobody
# received: the request was sent, and no answer said it was refused.
_MAYBE_BILLED_CODES = frozenset({"upstream_timeout", "upstream_connection_lost", "timeout"})


def maybe_billed_failure(error: GatewayError) -> bool:
    """Could the upstream have billed this failed attempt? (Refusals, connect
    failures and answered errors bill nothing; a timeout or a connection lost after
    sending may have.)"""
    return error.code in _MAYBE_BILLED_CODES or error.status is grpc.StatusCode.DEADLINE_EXCEEDED


def is_total_timeout(error: GatewayError) -> bool:
    """The whole-exchange limit ended the call (not a slow first byte)."""
    return error.code == "upstream_timeout" and error.metadata.get("phase") == "total"


def is_timeout(error: GatewayError) -> bool:
    return error.status is grpc.StatusCode.DEADLINE_EXCEEDED or "timeout" in error.code


def _is_context_error(error: GatewayError) -> bool:
    if error.code in CONTEXT_CODES or error.metadata.get("upstream_code") in CONTEXT_CODES:
        return True
    client_error = error.status is grpc.StatusCode.INVALID_ARGUMENT or error.http_status in (
        400,
        413,
    )
    return client_error and _CONTEXT_TEXT.search(error.message) is not None


def may_retry(*, first_byte_sent: bool) -> bool:
    """Only before the first byte reached the client: after that the response is
    committed and an error must travel in-band."""
    return not first_byte_sent


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 4  # attempts per request, first one included
    base_delay_s: float = 0.05
    max_delay_s: float = 2.0
    max_retry_after_s: float = 10.0  # a longer Retry-After is not waited for
    min_attempt_timeout_s: float = 0.05  # less deadline left than this: stop

    def backoff_s(self, retry: int, rng: random.Random) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**(retry-1))]."""
        ceiling = min(self.max_delay_s, self.base_delay_s * (2 ** max(0, retry - 1)))
        return rng.uniform(0.0, ceiling)

    def delay_s(self, retry: int, error: GatewayError | None, rng: random.Random) -> float | None:
        """The wait before re-trying a deployment that failed with `error`;
        None when its Retry-After is longer than we are willing to wait."""
        jitter = self.backoff_s(retry, rng)
        after = error.retry_after_s if error is not None else None
        if after is None:
            return jitter
        if after > self.max_retry_after_s:
            return None
        return max(jitter, after)


class RetryBudget:
    """A token bucket shared by every request of one router.

    Each request deposits `ratio` tokens and time adds `min_per_s` (the floor
    that lets a quiet router still retry); each retry withdraws one; the balance
    never exceeds `max_balance`. Over any period of T seconds with N requests,
    retries <= max_balance + ratio * N + min_per_s * T.
    """

    def __init__(
        self,
        *,
        ratio: float = 0.2,
        min_per_s: float = 1.0,
        max_balance: float = 10.0,
        clock: Callable[[], float],
    ) -> None:
        self.ratio = ratio
        self.min_per_s = min_per_s
        self.max_balance = max_balance
        self._clock = clock
        self._balance = max_balance
        self._updated = clock()
        self.withdrawn = 0
        self.refused = 0

    @property
    def balance(self) -> float:
        self._refill()
        return self._balance

    def deposit(self) -> None:
        """One request started."""
        self._refill()
        self._balance = min(self.max_balance, self._balance + self.ratio)

    def try_withdraw(self) -> bool:
        """Take one token for a retry; False (and count it) when the budget is spent."""
        self._refill()
        if self._balance >= 1.0:
            self._balance -= 1.0
            self.withdrawn += 1
            return True
        self.refused += 1
        return False

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        self._updated = now
        self._balance = min(self.max_balance, self._balance + elapsed * self.min_per_s)
