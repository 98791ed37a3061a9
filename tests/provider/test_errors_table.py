"""The canonical upstream-error table (generic HTTP), each provider's vocabulary on top
of it, redaction built from the registered providers, and Retry-After parsing."""

from __future__ import annotations

from email.utils import formatdate
from http import HTTPStatus

import grpc
import orjson
import pytest

from services.provider import errors
from services.provider.adapters.anthropic.errors import VOCABULARY as ANTHROPIC
from services.provider.adapters.groq import VOCABULARY as GROQ
from services.provider.adapters.openai import VOCABULARY as OPENAI
from services.provider.redact import GENERIC_REDACTOR, REDACTED, Redactor, extract_message
from services.provider.registry import registered
from services.provider.vocabulary import (
    OVERLOADED,
    UPSTREAM_RULES,
    Refinement,
    Vocabulary,
    rule_for,
)

S = grpc.StatusCode
REGISTERED = Redactor.of(spec.vocabulary for spec in registered(demo=True))

# status → (code, grpc status, client http status, retryable)
TABLE = [
    (400, "upstream_bad_request", S.INVALID_ARGUMENT, 400, False),
    (401, "provider_auth_failed", S.FAILED_PRECONDITION, 502, False),
    (403, "provider_permission_denied", S.FAILED_PRECONDITION, 502, False),
    (404, "upstream_not_found", S.NOT_FOUND, 404, False),
    (408, "upstream_timeout", S.DEADLINE_EXCEEDED, 504, True),
    (409, "upstream_conflict", S.ABORTED, 409, True),
    (413, "upstream_payload_too_large", S.INVALID_ARGUMENT, 413, False),
    (422, "upstream_unprocessable", S.INVALID_ARGUMENT, 422, False),
    (429, "upstream_rate_limited", S.RESOURCE_EXHAUSTED, 429, True),
    (500, "upstream_server_error", S.UNAVAILABLE, 502, True),
    (502, "upstream_bad_gateway", S.UNAVAILABLE, 502, True),
    (503, "upstream_unavailable", S.UNAVAILABLE, 503, True),
    (504, "upstream_gateway_timeout", S.DEADLINE_EXCEEDED, 504, True),
    (418, "upstream_client_error", S.INVALID_ARGUMENT, 400, False),
    (498, "upstream_client_error", S.INVALID_ARGUMENT, 400, False),
    (529, "upstream_server_error", S.UNAVAILABLE, 502, True),
    (599, "upstream_server_error", S.UNAVAILABLE, 502, True),
    (302, "upstream_unexpected_status", S.UNAVAILABLE, 502, False),
]


@pytest.mark.parametrize(("status", "code", "grpc_status", "http_status", "retryable"), TABLE)
def test_every_status_maps_to_its_row(
    status: int, code: str, grpc_status: grpc.StatusCode, http_status: int, retryable: bool
) -> None:
    body = orjson.dumps({"error": {"message": "boom", "type": "x", "param": None, "code": None}})
    error = errors.upstream_error(provider="acme", status=status, body=body)
    assert (error.code, error.status, error.http_status, error.retryable) == (
        code,
        grpc_status,
        http_status,
        retryable,
    )
    assert error.metadata["provider"] == "acme"
    assert error.metadata["upstream_status"] == str(status)
    assert "boom" in error.message
    assert f"HTTP {status}" in error.message


def test_the_shared_table_is_standard_http_only() -> None:
    assert all(HTTPStatus(status) for status in UPSTREAM_RULES)


def test_provider_auth_failure_is_not_the_clients_fault() -> None:
    error = errors.upstream_error(provider="acme", status=401, body=b"{}")
    assert error.http_status == 502
    assert "operator" in error.message
    status = error.to_status_proto()
    assert status.code == S.FAILED_PRECONDITION.value[0]


def test_error_body_fields_are_extracted() -> None:
    body = {
        "error": {
            "message": "Invalid value for 'temperature'.",
            "type": "invalid_request_error",
            "param": "temperature",
            "code": "invalid_value",
        }
    }
    error = errors.upstream_error(
        provider="acme", status=400, body=orjson.dumps(body), headers={"x-request-id": "req_1"}
    )
    assert error.param == "temperature"
    assert error.metadata["upstream_type"] == "invalid_request_error"
    assert error.metadata["upstream_code"] == "invalid_value"
    assert error.metadata["upstream_request_id"] == "req_1"
    assert "Invalid value for 'temperature'." in error.message


def test_a_vocabulary_adds_statuses_and_refinements() -> None:
    own = Vocabulary(
        statuses={599: OVERLOADED},
        refinements=(Refinement(frozenset({"busy"}), OVERLOADED, status=500),),
    )
    assert rule_for(599, vocabulary=own) is OVERLOADED
    assert rule_for(500, "busy", vocabulary=own) is OVERLOADED
    assert rule_for(503, "busy", vocabulary=own).code == "upstream_unavailable"  # status-bound
    assert rule_for(599).code == "upstream_server_error"  # without it: generic


def test_an_overloaded_type_in_the_body_wins_over_the_status() -> None:
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    for status in (500, 529, 503):
        error = errors.upstream_error(
            provider="acme", status=status, body=orjson.dumps(body), vocabulary=ANTHROPIC
        )
        assert error.code == "upstream_overloaded"
        assert error.retryable
        assert error.metadata["upstream_type"] == "overloaded_error"


def test_insufficient_quota_is_an_operator_problem() -> None:
    body = {"error": {"message": "You exceeded your quota", "type": "insufficient_quota"}}
    error = errors.upstream_error(
        provider="acme", status=429, body=orjson.dumps(body), vocabulary=OPENAI
    )
    assert error.code == "provider_quota_exhausted"
    assert error.http_status == 502
    assert not error.retryable
    plain = errors.upstream_error(provider="acme", status=429, body=orjson.dumps(body))
    assert plain.code == "upstream_rate_limited"  # another provider's words mean nothing


def test_a_full_flex_tier_is_capacity_exceeded() -> None:
    error = errors.upstream_error(provider="acme", status=498, vocabulary=GROQ)
    assert (error.code, error.http_status, error.retryable) == (
        "upstream_capacity_exceeded",
        503,
        True,
    )


def test_non_json_body_gives_a_short_snippet() -> None:
    html = b"<html><body>" + b"Bad gateway " * 200 + b"</body></html>"
    error = errors.upstream_error(provider="acme", status=502, body=html)
    assert error.code == "upstream_bad_gateway"
    assert len(error.message) < 700


def test_empty_body() -> None:
    error = errors.upstream_error(provider="acme", status=503)
    assert error.message.startswith("acme is unavailable (HTTP 503). ")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"Retry-After": "1.5"}, 1.5),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after-ms": "nonsense", "retry-after": "9"}, 9.0),
        ({"retry-after": "-3"}, 0.0),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_forms(headers: dict[str, str], expected: float | None) -> None:
    assert errors.retry_after_seconds(headers) == expected


def test_retry_after_http_date() -> None:
    now = 1_700_000_000.0
    header = formatdate(now + 30, usegmt=True)
    assert errors.retry_after_seconds({"retry-after": header}, now=now) == pytest.approx(30.0)
    past = formatdate(now - 30, usegmt=True)
    assert errors.retry_after_seconds({"retry-after": past}, now=now) == 0.0


def test_retry_after_only_on_retryable_errors() -> None:
    retryable = errors.upstream_error(provider="p", status=429, headers={"retry-after": "3"})
    assert retryable.retry_after_s == 3.0
    final = errors.upstream_error(provider="p", status=400, headers={"retry-after": "3"})
    assert final.retry_after_s is None


def test_retry_info_survives_the_status_proto() -> None:
    error = errors.upstream_error(provider="p", status=429, headers={"retry-after-ms": "1500"})
    rebuilt = type(error).from_status_proto(error.to_status_proto())
    assert rebuilt.code == "upstream_rate_limited"
    assert rebuilt.retryable
    assert rebuilt.retry_after_s == pytest.approx(1.5)
    assert rebuilt.metadata["provider"] == "p"
    assert rebuilt.metadata["upstream_status"] == "429"


SECRETS = [
    "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789",
    "sk-ant-api03-abcdefghijklmnopqrstuvwxyz",
    "sk-agp-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "gsk_abcdefghijklmnopqrstuvwxyz012345",
    "sk-abc***************wxyz",
]


@pytest.mark.parametrize("secret", SECRETS)
def test_key_shapes_of_the_registered_providers_are_redacted(secret: str) -> None:
    body = {"error": {"message": f"Incorrect API key provided: {secret}. See docs."}}
    error = errors.upstream_error(
        provider="acme", status=401, body=orjson.dumps(body), redactor=REGISTERED
    )
    assert secret not in error.message
    assert REDACTED in error.message
    assert "See docs." in error.message


def test_a_key_shape_is_redacted_once_a_vocabulary_declares_it() -> None:
    text = "key AIzaSyA-abcdefghijklmnopqrstuvwxyz012 was refused"
    assert GENERIC_REDACTOR.redact(text) == text
    declared = Redactor.of([Vocabulary(key_prefixes=("AIza",))])
    assert declared.redact(text) == f"key {REDACTED} was refused"


def test_bearer_tokens_and_assignments_are_redacted() -> None:
    text = GENERIC_REDACTOR.redact(
        'Authorization: Bearer abc.def-ghi_jkl and api_key="hunter22hunter" x-api-key: zz9zz9'
    )
    assert "abc.def-ghi_jkl" not in text
    assert "hunter22hunter" not in text
    assert "zz9zz9" not in text


def test_configured_secret_values_are_redacted_even_when_not_key_shaped() -> None:
    secret = "plainsecretvalue42"
    error = errors.upstream_error(
        provider="p", status=400, body=f"bad key {secret}".encode(), secrets=[secret]
    )
    assert secret not in error.message


def test_ordinary_words_are_not_redacted() -> None:
    words = "task-1 risk-free disk-usage"
    assert REGISTERED.redact(words) == words


def test_long_messages_are_bounded() -> None:
    found = extract_message({"error": {"message": "x" * 5000}})
    assert len(found.message) <= 500


def test_stream_error_uses_the_error_type() -> None:
    wrapped = errors.stream_error(
        provider="acme",
        payload={"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        vocabulary=ANTHROPIC,
    )
    assert wrapped.code == "upstream_overloaded"
    assert wrapped.retryable
    assert wrapped.metadata["upstream_status"] == "529"
    server = errors.stream_error(
        provider="acme", payload={"error": {"message": "oops", "type": "server_error"}}
    )
    assert server.code == "upstream_server_error"
    rate = errors.stream_error(
        provider="acme", payload={"error": {"type": "rate_limit_error", "message": "slow"}}
    )
    assert rate.code == "upstream_rate_limited"
    unknown = errors.stream_error(provider="x", payload={"error": "weird"})
    assert unknown.code == "upstream_server_error"


@pytest.mark.parametrize(
    ("phase", "code", "grpc_status"),
    [
        ("connect", "upstream_connect_timeout", S.UNAVAILABLE),
        ("first_byte", "upstream_timeout", S.DEADLINE_EXCEEDED),
        ("total", "upstream_timeout", S.DEADLINE_EXCEEDED),
        ("stream_idle", "upstream_timeout", S.DEADLINE_EXCEEDED),
    ],
)
def test_timeouts_are_retryable(phase: str, code: str, grpc_status: grpc.StatusCode) -> None:
    error = errors.timeout_error("acme", phase, 2.5)
    assert (error.code, error.status, error.retryable) == (code, grpc_status, True)
    assert error.metadata == {"provider": "acme", "phase": phase}


def test_transport_errors() -> None:
    for error in (
        errors.connect_error("p", "refused"),
        errors.connection_lost("p", "reset"),
        errors.invalid_upstream_response("p", "not JSON"),
    ):
        assert error.retryable
        assert error.status == S.UNAVAILABLE
        assert error.http_status == 502


def test_service_errors() -> None:
    assert errors.invalid_json("x").code == "invalid_json"
    assert errors.invalid_json("x").status == S.INVALID_ARGUMENT
    missing = errors.provider_not_found("nope", ["local", "acme"])
    assert (missing.code, missing.status) == ("provider_not_found", S.NOT_FOUND)
    assert "acme, local" in missing.message
    unconfigured = errors.provider_not_configured("acme", "ACME_API_KEY")
    assert unconfigured.code == "provider_not_configured"
    assert unconfigured.status == S.FAILED_PRECONDITION
    assert "ACME_API_KEY" in unconfigured.message


def test_the_upstream_status_behind_an_error() -> None:
    assert errors.upstream_status(errors.upstream_error(provider="acme", status=401)) == 401
    assert errors.upstream_status(errors.connect_error("acme", "refused")) == 0
    assert errors.upstream_status(errors.invalid_json("x")) is None
