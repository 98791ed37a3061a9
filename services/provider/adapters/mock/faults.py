"""Injected faults: when they fire, and the canonical errors they produce.

Fault errors go through the same table as a real upstream's (errors.py), from
the body a real provider would send, so a demo's failure is indistinguishable
from the real thing downstream. The words the mock uses beyond generic HTTP (an
overloaded 529, the error types of its in-band failures, its fake `sk-mock-` keys)
are its `VOCABULARY`.
"""

from __future__ import annotations

import math
import random
from fractions import Fraction
from types import MappingProxyType

import orjson

from services.kernel.errors import GatewayError
from services.provider import errors
from services.provider.adapters.mock.settings import MockSettings
from services.provider.redact import GENERIC_REDACTOR, Redactor
from services.provider.vocabulary import OVERLOADED, Refinement, Vocabulary

__all__ = [
    "PROVIDER_NAME",
    "VOCABULARY",
    "FaultPlan",
    "fault_error",
    "midstream_error",
    "request_error",
]

PROVIDER_NAME = "mock"

VOCABULARY = Vocabulary(
    statuses=MappingProxyType({529: OVERLOADED}),
    error_types=MappingProxyType(
        {
            "timeout_error": 408,
            "conflict_error": 409,
            "request_too_large": 413,
            "overloaded_error": 529,
        }
    ),
    refinements=(Refinement(frozenset({"overloaded_error"}), OVERLOADED),),
    key_prefixes=("sk-mock-",),
)

_TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    409: "conflict_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    529: "overloaded_error",
}
_MESSAGE_BY_STATUS = {
    401: "Incorrect API key provided: sk-mock-****************cdef.",
    429: "Rate limit reached for requests (mock fault).",
    529: "Overloaded",
}


class FaultPlan:
    """Decides whether a call's configured fault fires; one per adapter instance.

    Without a seed the k-th call (k = 0, 1, ...) of a model faults when
    ceil((k+1)·rate) > ceil(k·rate): evenly spaced, the first call included.
    With a seed a `random.Random(seed)` per model draws each call."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._random: dict[tuple[str, int], random.Random] = {}

    def fires(self, key: str, settings: MockSettings) -> bool:
        if not settings.has_fault:
            return False
        rate = settings.effective_fault_rate
        if rate >= 1.0:
            return True
        if rate <= 0.0:
            return False
        if settings.fault_seed is not None:
            draw = self._random.setdefault(
                (key, settings.fault_seed),
                random.Random(settings.fault_seed),  # noqa: S311
            )
            return draw.random() < rate
        k = self._counts.get(key, 0)
        self._counts[key] = k + 1
        exact = Fraction(rate).limit_denominator(10_000)
        return math.ceil((k + 1) * exact) > math.ceil(k * exact)


def _body(status: int) -> bytes:
    message = _MESSAGE_BY_STATUS.get(status, f"Mock fault injected: HTTP {status}.")
    kind = _TYPE_BY_STATUS.get(status, "server_error")
    if status == 529:  # the wrapped shape that comes with a 529
        return orjson.dumps({"type": "error", "error": {"type": kind, "message": message}})
    return orjson.dumps({"error": {"message": message, "type": kind, "param": None, "code": None}})


def fault_error(
    status: int, retry_after_s: float | None, redactor: Redactor = GENERIC_REDACTOR
) -> GatewayError:
    headers = {"x-request-id": "req_mock_fault"}
    if retry_after_s is not None:
        headers["retry-after-ms"] = str(int(retry_after_s * 1000))
    return errors.upstream_error(
        provider=PROVIDER_NAME,
        status=status,
        headers=headers,
        body=_body(status),
        vocabulary=VOCABULARY,
        redactor=redactor,
    )


def midstream_error(status: int, after_chunks: int) -> GatewayError:
    kind = _TYPE_BY_STATUS.get(status, "server_error") if status else "server_error"
    payload = {
        "error": {
            "message": f"Mock stream broken after {after_chunks} chunks.",
            "type": kind,
        }
    }
    return errors.stream_error(provider=PROVIDER_NAME, payload=payload, vocabulary=VOCABULARY)


def request_error(message: str, param: str | None) -> GatewayError:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": param}}
    return errors.upstream_error(
        provider=PROVIDER_NAME, status=400, body=body, vocabulary=VOCABULARY
    )
