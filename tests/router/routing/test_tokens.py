from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.router.routing.tokens import (
    IMAGE_TOKENS,
    MESSAGE_OVERHEAD,
    estimate_text_tokens,
    local_exact_counter,
    profile_request,
)
from tests.router.routing.helpers import caps

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "token_counts.json").read_text("utf-8"))
SAMPLES = FIXTURE["samples"]
NORMAL = [s for s in SAMPLES if s["group"] != "cjk_tables"]
TABLES = [s for s in SAMPLES if s["group"] == "cjk_tables"]


def exact(sample):
    return max(sample["cl100k_base"], sample["o200k_base"])


def test_fixture_covers_many_kinds_of_text():
    groups = {s["group"] for s in SAMPLES}
    assert len(SAMPLES) >= 150
    assert {"english", "code_python", "json", "cjk", "lang_ru", "lang_emoji", "lang_b64"} <= groups


@pytest.mark.parametrize("sample", NORMAL, ids=lambda s: f"{s['group']}:{s['text'][:12]!r}")
def test_never_more_than_one_token_under_exact_bpe(sample):
    # The one token of slack is covered by MESSAGE_OVERHEAD (> OpenAI's 3 per message).
    assert estimate_text_tokens(sample["text"]) + 1 >= exact(sample)


def test_never_under_exact_bpe_for_texts_of_20_tokens_or_more():
    big = [s for s in NORMAL if exact(s) >= 20]
    assert len(big) >= 80
    under = [s["text"][:40] for s in big if estimate_text_tokens(s["text"]) < exact(s)]
    assert under == []


def test_overcount_stays_reasonable_for_prose_and_code():
    for group in ("english", "code_python", "json"):
        rows = [s for s in NORMAL if s["group"] == group]
        ratio = sum(estimate_text_tokens(s["text"]) for s in rows) / sum(exact(s) for s in rows)
        assert 1.0 <= ratio <= 2.0, (group, ratio)


def test_known_weakness_encoding_tables_is_bounded():
    assert TABLES
    worst = min(estimate_text_tokens(s["text"]) / exact(s) for s in TABLES)
    assert worst >= 0.7


@given(st.text())
def test_any_text_is_counted_without_error(text):
    count = estimate_text_tokens(text)
    assert count >= (1 if text else 0)


@given(st.text())
def test_at_least_one_token_per_word(text):
    # A BPE token never spans a space-separated word boundary in cl100k/o200k
    # pre-tokenisation, so words are a hard lower bound.
    assert estimate_text_tokens(text) >= len(text.split())


@given(st.text(max_size=400))
def test_estimate_is_linear_in_the_size(text):
    assert estimate_text_tokens(text) <= 2 * len(text.encode("utf-8", "surrogatepass")) + 1


def test_lone_surrogates_do_not_crash():
    assert estimate_text_tokens("a\ud800b") >= 2


def test_profile_counts_messages_parts_images_and_tools():
    body = {
        "model": "auto",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in this picture?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                ],
            },
            {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",
             "function": {"name": "look", "arguments": "{\"x\": 1}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "a cat"},
        ],
        "tools": [{"type": "function", "function": {"name": "look", "parameters": {}}}],
        "max_tokens": 300,
        "stream": True,
    }  # fmt: skip
    profile = profile_request(body)
    assert profile.max_output_tokens == 300
    assert profile.stream
    assert profile.capabilities == caps("chat", "streaming", "tools", "vision")
    # The image costs a fixed amount: its base64 is not counted as text.
    assert IMAGE_TOKENS + 4 * MESSAGE_OVERHEAD < profile.prompt_tokens < IMAGE_TOKENS + 200


def test_profile_grows_with_text():
    small = profile_request({"messages": [{"role": "user", "content": "hi"}]})
    large = profile_request({"messages": [{"role": "user", "content": "hello world " * 1000}]})
    assert small.prompt_tokens < 20
    assert large.prompt_tokens >= 2000


@pytest.mark.parametrize(
    ("extra", "needed"),
    [
        ({}, set()),
        ({"response_format": {"type": "json_object"}}, {"json_mode"}),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}},
            {"json_schema"},
        ),
        ({"logprobs": True}, {"logprobs"}),
        ({"n": 3}, {"multiple_choices"}),
        ({"n": 1}, set()),
        ({"functions": [{"name": "f"}]}, {"tools"}),
        ({"stream": False}, set()),
    ],
)
def test_capabilities_inferred_from_the_body(extra, needed):
    body = {"messages": [{"role": "user", "content": "x"}], **extra}
    assert profile_request(body).capabilities == caps("chat", *needed)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"max_completion_tokens": 50, "max_tokens": 10}, 50),
        ({"max_tokens": 10}, 10),
        ({"max_tokens": 0}, None),
        ({"max_tokens": True}, None),
        ({"max_tokens": "7"}, None),
        ({}, None),
    ],
)
def test_max_output_tokens(body, expected):
    assert profile_request({"messages": [], **body}).max_output_tokens == expected


def test_completions_prompt_forms():
    text = profile_request({"prompt": "Say hi"}, operation="completions")
    tokens = profile_request({"prompt": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]}, operation="completions")
    assert text.capabilities == caps("completions")
    assert 2 <= text.prompt_tokens < 10
    assert tokens.prompt_tokens >= 10


def test_odd_shapes_never_raise():
    for body in (
        {"messages": "nope"},
        {"messages": [None, 3, {"role": 1, "content": {"weird": True}}]},
        {"messages": [{"role": "user", "content": [None, {"type": "text", "text": 5}]}]},
        {"tools": "x", "response_format": "json"},
    ):
        assert profile_request(body).prompt_tokens >= 0


def test_exact_counter_is_optional():
    counter = local_exact_counter()
    if counter is None:
        pytest.skip("no offline BPE vocabulary installed (optional bpe-openai)")
    assert counter("hello world") >= 2
