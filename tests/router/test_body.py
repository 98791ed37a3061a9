"""Body parsing at the router: clear errors with stable codes and the right param."""

from __future__ import annotations

import orjson
import pytest

from services.kernel.errors import GatewayError
from services.router.body import CHAT, COMPLETIONS, parse_body


def _error(raw: bytes, operation: str = CHAT, max_bytes: int = 1000) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        parse_body(raw, operation, max_bytes=max_bytes)
    return caught.value


@pytest.mark.parametrize(
    ("raw", "code", "param"),
    [
        (b"", "invalid_json", None),
        (b"{not json", "invalid_json", None),
        (b"[1, 2]", "invalid_request", None),
        (b'{"messages": [{"role": "user", "content": "hi"}]}', "missing_model", "model"),
        (b'{"model": 3, "messages": []}', "invalid_model", "model"),
        (b'{"model": "mock/echo"}', "missing_messages", "messages"),
        (b'{"model": "mock/echo", "messages": []}', "invalid_messages", "messages"),
        (b'{"model": "mock/echo", "messages": ["hi"]}', "invalid_messages", "messages[0]"),
        (
            b'{"model": "mock/echo", "messages": [{"role": "user"}], "stream": "yes"}',
            "invalid_stream",
            "stream",
        ),
    ],
)
def test_bad_bodies_are_400_with_code_and_param(raw: bytes, code: str, param: str | None) -> None:
    error = _error(raw)
    assert (error.http_status, error.code, error.param) == (400, code, param)
    assert error.type == "invalid_request_error"


def test_oversize_body_is_413_before_parsing() -> None:
    error = _error(b"x" * 2000)
    assert (error.http_status, error.code) == (413, "request_too_large")


def test_completions_need_prompt() -> None:
    assert _error(b'{"model": "mock/echo"}', COMPLETIONS).code == "missing_prompt"


def test_unknown_fields_survive_and_stream_is_read() -> None:
    raw = (
        b'{"model": "mock/echo", "messages": [{"role": "user", "content": "hi"}],'
        b' "stream": true, "vendor_knob": {"a": 1}}'
    )
    parsed = parse_body(raw, CHAT, max_bytes=1000)
    assert parsed.stream is True
    assert parsed.model == "mock/echo"
    assert parsed.body["vendor_knob"] == {"a": 1}


@pytest.mark.parametrize("name", ["max_tokens", "max_completion_tokens", "n"])
@pytest.mark.parametrize("value", [0, -1, 10**15, 2**63 - 1, 1.5, "100", True])
def test_numbers_admission_estimates_from_are_bounded(name: str, value: object) -> None:
    body = {"model": "mock/echo", "messages": [{"role": "user", "content": "hi"}], name: value}
    error = _error(orjson.dumps(body))
    assert (error.http_status, error.code, error.param) == (400, f"invalid_{name}", name)


@pytest.mark.parametrize("name", ["max_tokens", "max_completion_tokens", "n"])
def test_in_range_and_null_numbers_pass(name: str) -> None:
    for value in (1, 128, None):
        raw = (
            b'{"model": "mock/echo", "messages": [{"role": "user", "content": "hi"}], "'
            + name.encode()
            + b'": '
            + (b"null" if value is None else str(value).encode())
            + b"}"
        )
        assert parse_body(raw, CHAT, max_bytes=1000).body.get(name) == value
