from __future__ import annotations

import grpc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.kernel.errors import GatewayError
from services.router.routing.requirements import (
    NO_REQUIREMENTS,
    Prefer,
    Requirements,
    parse_requirements,
)
from tests.router.routing.helpers import caps


def body(**requirements):
    return {"model": "auto", "agentopia": {"requirements": requirements}}


def test_no_requirements():
    assert parse_requirements({"model": "x"}) is NO_REQUIREMENTS
    assert parse_requirements({"agentopia": {}}) == NO_REQUIREMENTS
    assert parse_requirements({"agentopia": {"requirements": {}}}, "") == NO_REQUIREMENTS


def test_every_field_from_the_body():
    parsed = parse_requirements(
        body(
            capabilities=["tools", "vision"],
            max_input_price=1,
            max_output_price=4.5,
            prefer="latency",
            providers=["openai", "groq"],
            exclude_providers=["anthropic"],
            min_context=100_000,
            max_latency_ms=1500,
        )
    )
    assert parsed == Requirements(
        capabilities=caps("tools", "vision"),
        max_input_price=1.0,
        max_output_price=4.5,
        prefer=Prefer.LATENCY,
        providers=frozenset({"openai", "groq"}),
        exclude_providers=frozenset({"anthropic"}),
        min_context=100_000,
        max_latency_ms=1500.0,
    )


def test_header_alone_and_body_overrides_header_per_field():
    header = '{"prefer": "latency", "max_input_price": 2}'
    assert parse_requirements({}, header).prefer is Prefer.LATENCY
    merged = parse_requirements(body(max_input_price=0.5), header.encode())
    assert merged.max_input_price == 0.5 and merged.prefer is Prefer.LATENCY


@pytest.mark.parametrize(
    ("payload", "header", "param"),
    [
        ({"agentopia": []}, None, "agentopia"),
        ({"agentopia": {"requirements": "fast"}}, None, "agentopia.requirements"),
        (body(colour="red"), None, "agentopia.requirements.colour"),
        (body(capabilities="tools"), None, "agentopia.requirements.capabilities"),
        (body(capabilities=["telepathy"]), None, "agentopia.requirements.capabilities"),
        (body(capabilities=[""]), None, "agentopia.requirements.capabilities"),
        (body(max_input_price=-1), None, "agentopia.requirements.max_input_price"),
        (body(max_input_price="1"), None, "agentopia.requirements.max_input_price"),
        (body(max_output_price=True), None, "agentopia.requirements.max_output_price"),
        (body(max_output_price=float("nan")), None, "agentopia.requirements.max_output_price"),
        (body(prefer="quality"), None, "agentopia.requirements.prefer"),
        (body(providers=[]), None, "agentopia.requirements.providers"),
        (body(providers=[1]), None, "agentopia.requirements.providers"),
        (body(min_context=0), None, "agentopia.requirements.min_context"),
        (body(min_context=1.5), None, "agentopia.requirements.min_context"),
        (body(max_latency_ms=0), None, "agentopia.requirements.max_latency_ms"),
        ({}, "{not json", "x-agentopia-requirements"),
        ({}, "[1, 2]", "x-agentopia-requirements"),
        ({}, '{"bogus": 1}', "x-agentopia-requirements.bogus"),
        ({}, '{"prefer": "x"}' + " " * 5000, "x-agentopia-requirements"),
    ],
)
def test_invalid_requirements_name_the_field(payload, header, param):
    with pytest.raises(GatewayError) as info:
        parse_requirements(payload, header)
    error = info.value
    assert error.status == grpc.StatusCode.INVALID_ARGUMENT and error.http_status == 400
    assert error.code == "invalid_requirements"
    assert error.param == param
    assert param in error.message


@given(
    st.dictionaries(
        st.text(max_size=12),
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8),
                  st.lists(st.text(max_size=8), max_size=3)),
        max_size=4,
    )
)  # fmt: skip
def test_arbitrary_input_is_accepted_or_refused_cleanly(fields):
    try:
        parse_requirements({"agentopia": {"requirements": fields}})
    except GatewayError as error:
        assert error.code == "invalid_requirements"
