"""Golden fixtures: unified request → the exact Anthropic Messages body, or our refusal.

tests/fixtures/providers/anthropic/requests/*.json hold {unified, anthropic};
requests/refusals.json the requests we refuse (INVALID_ARGUMENT naming the parameter).
Every produced body is also checked against the emulator's copy of the API's rules,
so a fixture cannot enshrine a body the real API would reject.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import grpc
import pytest

from services.kernel.errors import GatewayError
from services.provider.adapters.anthropic.params import RULES
from services.provider.adapters.anthropic.translate import (
    API_VERSION,
    MESSAGES_PATH,
    request_headers,
    translate_request,
)
from services.provider.adapters.base import Call, Credential, Operation
from tests.emulators._anthropic_wire import validate

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "providers" / "anthropic"
GOLDEN = sorted((FIXTURES / "requests").glob("*.json"))
GOLDEN = [p for p in GOLDEN if p.name != "refusals.json"]
REFUSALS = json.loads((FIXTURES / "requests" / "refusals.json").read_text())["cases"]


def _call(data: dict[str, Any], body: dict[str, Any]) -> Call:
    return Call(
        operation=Operation(data.get("operation", "chat")),
        body=body,
        upstream_model=data.get("upstream_model", "claude-sonnet-4-5"),
        response_model="claude",
        request_id="req-fixture",
        default_max_tokens=data.get("default_max_tokens", 4096),
        credential=Credential("key_1", "sk-ant-secret"),
    )


@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_request_fixture(path: Path) -> None:
    data = json.loads(path.read_text())
    body = translate_request(_call(data, data["unified"]))
    assert body == data["anthropic"]
    validate(body, API_VERSION)  # the API's own rules accept it


@pytest.mark.parametrize("case", REFUSALS, ids=[c["name"] for c in REFUSALS])
def test_refusal_fixture(case: dict[str, Any]) -> None:
    with pytest.raises(GatewayError) as caught:
        translate_request(_call(case, case["unified"]))
    error = caught.value
    assert error.status == grpc.StatusCode.INVALID_ARGUMENT
    assert error.http_status == 400
    assert error.type == "invalid_request_error"
    assert (error.code, error.param) == (case["code"], case["param"])
    assert case.get("says", "") in error.message


def test_translation_does_not_modify_the_unified_body() -> None:
    data = json.loads((FIXTURES / "requests" / "tool_round_trip_parallel.json").read_text())
    before = json.dumps(data["unified"], sort_keys=True)
    translate_request(_call(data, data["unified"]))
    translate_request(_call(data, data["unified"]))
    assert json.dumps(data["unified"], sort_keys=True) == before


def test_headers_carry_key_and_version() -> None:
    assert MESSAGES_PATH == "/v1/messages"  # the base URL has no /v1
    assert request_headers("sk-ant-x") == {
        "x-api-key": "sk-ant-x",
        "anthropic-version": "2023-06-01",
        "content-type": "application/json",
    }


@pytest.mark.parametrize("operation", list(RULES))  # the operations the adapter translates
def test_every_refused_parameter_is_covered_by_a_fixture(operation: Operation) -> None:
    refused = {name for name, rule in RULES[operation].items() if rule.action == "refuse"}
    covered = {c["param"] for c in REFUSALS if c["operation"] == operation.value}
    untested = {"prediction", "web_search_options", "verbosity", "function_call"}
    assert refused - covered - untested == set()


@pytest.mark.parametrize("name", ["prediction", "web_search_options", "verbosity", "function_call"])
def test_other_refused_parameters(name: str) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}], name: {"any": 1}}
    with pytest.raises(GatewayError) as caught:
        translate_request(_call({}, body))
    assert caught.value.param == name


def test_temperature_above_one_is_refused_not_clamped() -> None:
    body = {"model": "m", "temperature": 2, "messages": [{"role": "user", "content": "x"}]}
    with pytest.raises(GatewayError) as caught:
        translate_request(_call({}, body))
    assert "0 to 1" in caught.value.message
