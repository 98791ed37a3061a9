"""Edge cases of the OpenAI-compatible spec, request translation and stream translation."""

from __future__ import annotations

from typing import Any

import grpc
import orjson
import pytest

from services.kernel.errors import GatewayError
from services.provider.adapters import groq, openai
from services.provider.adapters.base import ALL_CAPABILITIES, Call, Capability, Operation, Usage
from services.provider.adapters.openai_compat import CompatSpec, ParamAction, ParamRule
from services.provider.adapters.openai_compat.stream import InBandError, StreamTranslator
from services.provider.adapters.openai_compat.translate import (
    build_request,
    parse_body,
    translate_response,
    usage_from,
)

CHAT_ONLY = frozenset({Capability.CAPABILITY_CHAT, Capability.CAPABILITY_STREAMING})


def _spec(**overrides: Any) -> CompatSpec:
    fields: dict[str, Any] = {
        "name": "acme",
        "base_url": "https://api.acme.test/v1",
        "chat_path": "/chat/completions",
        "capabilities": CHAT_ONLY,
    }
    return CompatSpec(**(fields | overrides))


def _call(body: dict[str, Any], operation: Operation = Operation.CHAT) -> Call:
    return Call(
        operation=operation,
        body=body,
        upstream_model="up",
        response_model="client",
        request_id="r1",
    )


# ---- spec ----


def test_spec_requires_completions_capability_to_match_the_endpoint() -> None:
    with pytest.raises(ValueError, match="COMPLETIONS"):
        _spec(completions_path="/completions")
    with pytest.raises(ValueError, match="COMPLETIONS"):
        _spec(capabilities=CHAT_ONLY | {Capability.CAPABILITY_COMPLETIONS})


def test_spec_requires_chat() -> None:
    with pytest.raises(ValueError, match="chat"):
        _spec(capabilities=frozenset({Capability.CAPABILITY_STREAMING}))


def test_spec_rejects_two_rules_for_one_parameter() -> None:
    with pytest.raises(ValueError, match="logprobs"):
        _spec(
            rules=(ParamRule("logprobs", ParamAction.DROP),),
            renames=(("logprobs", "log_probs"),),
        )


def test_paths_and_capabilities_of_the_shipped_specs() -> None:
    assert openai.SPEC.base_url + openai.SPEC.chat_path == (
        "https://api.openai.com/v1/chat/completions"
    )
    assert openai.SPEC.path_for(Operation.COMPLETIONS) == "/completions"
    assert groq.SPEC.base_url + groq.SPEC.chat_path == (
        "https://api.groq.com/openai/v1/chat/completions"
    )
    assert groq.SPEC.path_for(Operation.COMPLETIONS) is None
    assert Capability.CAPABILITY_COMPLETIONS not in groq.SPEC.capabilities
    assert Capability.CAPABILITY_LOGPROBS not in groq.SPEC.capabilities
    assert Capability.CAPABILITY_MULTIPLE_CHOICES not in groq.SPEC.capabilities
    assert openai.SPEC.capabilities == ALL_CAPABILITIES
    assert openai.PROVIDER.default_base_url == openai.SPEC.base_url
    assert groq.PROVIDER.api_key_env == "GROQ_API_KEY"


@pytest.mark.parametrize(
    ("rule", "value", "harmless"),
    [
        (ParamRule("n", ParamAction.REFUSE, harmless=(None, 1)), 1, True),
        (ParamRule("n", ParamAction.REFUSE, harmless=(None, 1)), True, False),
        (ParamRule("n", ParamAction.REFUSE, harmless=(None, 1)), 1.0, False),
        (ParamRule("logprobs", ParamAction.REFUSE, harmless=(None, False)), 0, False),
        (ParamRule("logprobs", ParamAction.REFUSE, harmless=(None, False)), None, True),
        (ParamRule("b", ParamAction.REFUSE, harmless_empty=True), {}, True),
        (ParamRule("b", ParamAction.REFUSE, harmless_empty=True), [], True),
        (ParamRule("b", ParamAction.REFUSE, harmless_empty=True), {"1": 2}, False),
        (ParamRule("b", ParamAction.REFUSE, harmless=(None,)), {}, False),
    ],
)
def test_harmless_values(rule: ParamRule, value: object, harmless: bool) -> None:
    assert rule.is_harmless(value) is harmless


# ---- requests ----


def test_renames_move_a_parameter_and_the_providers_own_name_wins() -> None:
    spec = _spec(renames=(("max_tokens", "max_completion_tokens"),))
    built = build_request(spec, _call({"messages": [], "max_tokens": 5}), stream=False)
    assert built.body == {"messages": [], "max_completion_tokens": 5, "model": "up"}
    both = {"messages": [], "max_tokens": 5, "max_completion_tokens": 9}
    built = build_request(spec, _call(both), stream=False)
    assert built.body == {"messages": [], "max_completion_tokens": 9, "model": "up"}
    assert built.dropped == ("max_tokens",)


def test_drop_rule_removes_any_value() -> None:
    spec = _spec(rules=(ParamRule("store", ParamAction.DROP),))
    built = build_request(spec, _call({"messages": [], "store": True}), stream=False)
    assert "store" not in built.body
    assert built.dropped == ("store",)


def test_message_rules_leave_odd_messages_alone() -> None:
    spec = _spec(rules=(ParamRule("messages[].name", ParamAction.REFUSE),))
    odd: dict[str, Any] = {"messages": "not a list"}
    assert build_request(spec, _call(odd), stream=False).body["messages"] == "not a list"
    mixed = {"messages": ["raw", {"role": "user", "content": "x"}]}
    built = build_request(spec, _call(mixed), stream=False)
    assert built.body["messages"] == mixed["messages"]
    assert built.dropped == ()


def test_message_refusal_names_the_message() -> None:
    spec = _spec(rules=(ParamRule("messages[].name", ParamAction.REFUSE, reason="no names"),))
    body = {"messages": [{"role": "user", "content": "a"}, {"role": "user", "name": "bo"}]}
    with pytest.raises(GatewayError) as caught:
        build_request(spec, _call(body), stream=False)
    assert caught.value.param == "messages[1].name"
    assert caught.value.status == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.http_status == 400
    assert "no names" in caught.value.message and "acme" in caught.value.message


def test_stream_options_that_are_not_an_object_are_replaced() -> None:
    body = {"messages": [], "stream": True, "stream_options": None}
    built = build_request(openai.SPEC, _call(body), stream=True)
    assert built.body["stream_options"] == {"include_usage": True}


def test_non_stream_call_leaves_an_explicit_stream_false_alone() -> None:
    body = {"messages": [], "stream": False}
    assert build_request(openai.SPEC, _call(body), stream=False).body == body | {"model": "up"}


# ---- responses and usage ----


def test_translate_response_keeps_unknown_fields() -> None:
    body: dict[str, Any] = {
        "id": "x",
        "model": "m",
        "choices": [],
        "x_groq": {"id": "r"},
        "usage_breakdown": None,
    }
    out = translate_response(groq.SPEC, body, response_model="client")
    assert out == {"id": "x", "model": "client", "choices": [], "usage_breakdown": None}


@pytest.mark.parametrize(
    "raw",
    [
        None,
        {},
        {"prompt_tokens": "12", "completion_tokens": True},
        {"prompt_tokens": -3, "prompt_tokens_details": None, "completion_tokens_details": 7},
    ],
)
def test_usage_from_tolerates_junk(raw: dict[str, Any] | None) -> None:
    assert usage_from(raw) == Usage()


def test_usage_reads_cache_writes() -> None:
    raw = {
        "prompt_tokens": 100,
        "completion_tokens": 5.0,
        "prompt_tokens_details": {"cached_tokens": 40, "cache_write_tokens": 60},
    }
    assert usage_from(raw) == Usage(100, 5, cached_tokens=40, cache_creation_tokens=60)


@pytest.mark.parametrize("raw", [b"", b"<html>", b"[1, 2]"])
def test_parse_body_rejects_what_is_not_an_object(raw: bytes) -> None:
    with pytest.raises(GatewayError) as caught:
        parse_body("acme", raw)
    assert caught.value.code == "upstream_invalid_response"
    assert caught.value.retryable


# ---- streams ----


def _translator(include_usage: bool = False, spec: CompatSpec | None = None) -> StreamTranslator:
    return StreamTranslator(
        spec or openai.SPEC, response_model="client", include_usage=include_usage
    )


def _data(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def _chunk(**fields: Any) -> dict[str, Any]:
    base = {"id": "c1", "object": "chat.completion.chunk", "created": 5, "model": "m"}
    return base | {"choices": [{"index": 0, "delta": {"content": "x"}}]} | fields


def test_keepalives_and_data_after_done_are_ignored() -> None:
    t = _translator()
    assert t.feed("") == [] and t.feed("   ") == []
    assert t.feed("[DONE]") == [] and t.done
    assert t.feed(_data(_chunk())) == []
    assert t.finish() == []
    assert t.usage == Usage()


def test_every_chunk_gets_the_first_id_and_created() -> None:
    t = _translator()
    t.feed(_data(_chunk()))
    later = _chunk(id="other", created=99)
    del later["object"]
    (out,) = t.feed(_data(later))
    assert (out.body["id"], out.body["created"], out.body["model"]) == ("c1", 5, "client")


@pytest.mark.parametrize("data", ["not json", "[1]", '"text"'])
def test_unreadable_events_fail(data: str) -> None:
    with pytest.raises(GatewayError) as caught:
        _translator().feed(data)
    assert caught.value.code == "upstream_invalid_response"


def test_named_error_event_and_string_errors_are_in_band_errors() -> None:
    with pytest.raises(InBandError) as caught:
        _translator().feed(_data({"message": "boom", "type": "server_error"}), "error")
    assert caught.value.payload == {"error": {"message": "boom", "type": "server_error"}}
    with pytest.raises(InBandError) as caught:
        _translator().feed(_data({"error": "overloaded"}))
    assert caught.value.payload == {"error": {"message": "overloaded", "type": "server_error"}}


def test_usage_on_a_choice_chunk_is_reported_once_in_a_usage_chunk() -> None:
    usage = {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
    t = _translator(include_usage=True)
    (out,) = t.feed(_data(_chunk(usage=usage)))
    assert out.body["usage"] is None
    t.feed("[DONE]")
    (tail,) = t.finish()
    assert tail.body == {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 5,
        "model": "client",
        "choices": [],
        "usage": usage,
    }
    assert t.finish() == []  # owed once
    assert t.usage == Usage(3, 1)


def test_frames_without_choices_are_normalised_or_dropped() -> None:
    t = _translator(spec=groq.SPEC)
    assert t.feed(_data({"id": "c1", "created": 5, "x_groq": {"id": "req"}})) == []
    filtered = {"id": "c1", "created": 5, "choices": [], "prompt_filter_results": [{"i": 0}]}
    (out,) = t.feed(_data(filtered))
    assert out.body["prompt_filter_results"] == [{"i": 0}] and out.body["choices"] == []
    usage_only = {"id": "c1", "usage": {"prompt_tokens": 2, "completion_tokens": 2}}
    assert t.feed(_data(usage_only)) == []  # the client did not ask for usage
    assert t.usage == Usage(2, 2)
