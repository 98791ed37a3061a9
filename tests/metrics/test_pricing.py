"""Golden tests: the computed cost of known usage, exact to the last digit."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from metrics.client import pricing
from metrics.client.pricing import Priced, PriceTable, PriceTableError, Unpriced, UsageTokens

AT = dt.datetime(2025, 12, 1, 12, 0, tzinfo=dt.UTC)


def cost(model: str, at: dt.datetime = AT, **tokens: int) -> Decimal:
    result = pricing.price(model, UsageTokens(**tokens), at)
    assert isinstance(result, Priced), result
    assert result.cost_usd == result.breakdown.total
    return result.cost_usd


GOLDEN = [
    # OpenAI: cached tokens are part of prompt_tokens, billed at the cached rate.
    (
        "openai/gpt-4o",
        dict(prompt_tokens=1234, cached_tokens=1000, completion_tokens=567),
        "0.007505",
    ),
    (
        "openai/gpt-4o-2024-08-06",
        dict(prompt_tokens=1234, cached_tokens=1000, completion_tokens=567),
        "0.007505",
    ),
    (
        "openai/gpt-4o-mini",
        dict(prompt_tokens=10_000, cached_tokens=4096, completion_tokens=1000),
        "0.0017928",
    ),
    # Reasoning tokens are output tokens on OpenAI (no separate price).
    ("openai/o3", dict(prompt_tokens=2000, completion_tokens=3000, reasoning_tokens=2500), "0.028"),
    ("openai/gpt-4.1-nano", dict(prompt_tokens=1, cached_tokens=1), "0.000000025"),
    (
        "openai/gpt-5-nano",
        dict(prompt_tokens=3, cached_tokens=1, completion_tokens=1),
        "0.000000505",
    ),
    # Anthropic: prompt = input + cache reads + cache writes, each at its own price.
    (
        "anthropic/claude-sonnet-4-20250514",
        dict(
            prompt_tokens=60_100,
            cached_tokens=50_000,
            cache_creation_tokens=10_000,
            completion_tokens=800,
        ),
        "0.0648",
    ),
    (
        "anthropic/claude-sonnet-4-20250514",
        dict(prompt_tokens=200_000, completion_tokens=1000),
        "0.615",
    ),
    # Above 200K prompt tokens the long-context tier prices the whole request.
    (
        "anthropic/claude-sonnet-4-20250514",
        dict(prompt_tokens=250_000, completion_tokens=1000),
        "1.5225",
    ),
    (
        "anthropic/claude-3-5-haiku-20241022",
        dict(
            prompt_tokens=3000, cached_tokens=1000, cache_creation_tokens=500, completion_tokens=300
        ),
        "0.00298",
    ),
    ("anthropic/claude-opus-4-1-20250805", dict(prompt_tokens=1, completion_tokens=1), "0.00009"),
    # Groq: no cache price published, cached tokens bill at the input price.
    (
        "groq/llama-3.3-70b-versatile",
        dict(prompt_tokens=1_000_000, completion_tokens=1_000_000),
        "1.38",
    ),
    (
        "groq/llama-3.3-70b-versatile",
        dict(prompt_tokens=1000, cached_tokens=100, completion_tokens=10),
        "0.0005979",
    ),
    ("groq/openai/gpt-oss-20b", dict(prompt_tokens=12_345, completion_tokens=6789), "0.002962575"),
    # The mock provider bills every category, reasoning apart from output.
    (
        "mock/echo",
        dict(
            prompt_tokens=1000,
            cached_tokens=100,
            cache_creation_tokens=200,
            completion_tokens=500,
            reasoning_tokens=200,
        ),
        "0.00216",
    ),
]


@pytest.mark.parametrize(("model", "tokens", "usd"), GOLDEN)
def test_golden_costs(model: str, tokens: dict[str, int], usd: str) -> None:
    assert cost(model, **tokens) == Decimal(usd)


def test_breakdown_of_every_category() -> None:
    usage = UsageTokens(
        prompt_tokens=1000,
        cached_tokens=100,
        cache_creation_tokens=200,
        completion_tokens=500,
        reasoning_tokens=200,
    )
    result = pricing.price("mock/anything", usage, AT)
    assert isinstance(result, Priced)
    parts = result.breakdown
    assert (parts.input, parts.cached, parts.cache_write, parts.output, parts.reasoning) == (
        Decimal("0.0007"),
        Decimal("0.00001"),
        Decimal("0.00025"),
        Decimal("0.0006"),
        Decimal("0.0006"),
    )
    assert result.cost_str == "0.00216"
    assert result.entry is not None and result.entry.price_id == "mock/*@2024-01-01"


def test_price_changes_apply_from_their_effective_date() -> None:
    tokens = dict(prompt_tokens=2000, completion_tokens=3000)
    before = dt.datetime(2025, 6, 9, 23, 59, 59, tzinfo=dt.UTC)
    after = dt.datetime(2025, 6, 10, 0, 0, tzinfo=dt.UTC)
    assert cost("openai/o3", before, **tokens) == Decimal("0.14")
    assert cost("openai/o3", after, **tokens) == Decimal("0.028")


def test_unknown_model_is_unpriced_never_zero() -> None:
    result = pricing.price("acme/secret-model", UsageTokens(prompt_tokens=10), AT)
    assert isinstance(result, Unpriced)
    assert "acme/secret-model" in result.reason


def test_model_before_its_first_price_is_unpriced() -> None:
    early = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    result = pricing.price("openai/gpt-5", UsageTokens(prompt_tokens=10), early)
    assert isinstance(result, Unpriced)
    assert "effective on 2025-01-01" in result.reason


def test_no_tokens_costs_exactly_zero_even_without_a_price() -> None:
    result = pricing.price("acme/secret-model", UsageTokens(), AT)
    assert isinstance(result, Priced)
    assert result.cost_usd == 0 and result.cost_str == "0" and result.entry is None


def test_inconsistent_usage_is_unpriced() -> None:
    usage = UsageTokens(prompt_tokens=10, cached_tokens=11)
    result = pricing.price("openai/gpt-4o", usage, AT)
    assert isinstance(result, Unpriced) and "inconsistent" in result.reason


def test_explicit_provider_and_slashes_in_model_ids() -> None:
    usage = UsageTokens(prompt_tokens=12_345, completion_tokens=6789)
    by_path = pricing.price("groq/openai/gpt-oss-20b", usage, AT)
    by_name = pricing.price("openai/gpt-oss-20b", usage, AT, provider="groq")
    assert isinstance(by_path, Priced) and by_path == by_name


@pytest.mark.parametrize(
    ("value", "text"),
    [("0", "0"), ("0.0000125000", "0.0000125"), ("3.000", "3"), ("1E-12", "0.000000000001")],
)
def test_format_usd(value: str, text: str) -> None:
    assert pricing.format_usd(Decimal(value)) == text


def test_shipped_table_is_complete() -> None:
    table = pricing.default_table()
    providers = {entry.provider for entry in table.entries}
    assert {"openai", "anthropic", "groq", "mock"} <= providers
    for entry in table.entries:
        assert entry.checked in {"official", "secondary", "internal"}
        assert entry.source.startswith("https://") or entry.checked == "internal"


def _table(**price: object) -> dict[str, object]:
    base: dict[str, object] = {
        "provider": "p",
        "model": "m",
        "effective": dt.date(2025, 1, 1),
        "input": "1",
        "output": "2",
        "source": "https://example.invalid",
        "checked": "official",
    }
    base.update(price)
    return {"version": "t1", "price": [base]}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"input": 1.5}, "decimal string"),
        ({"input": "0.0000001"}, "more than 6 decimal places"),
        ({"output": "-1"}, "non-negative"),
        ({"effective": "2025-01-01"}, "TOML date"),
        ({"surprise": "1"}, "unknown fields"),
        ({"source": ""}, "`source`"),
    ],
)
def test_malformed_tables_are_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(PriceTableError, match=message):
        PriceTable.from_mapping(_table(**change))


def test_two_prices_on_one_date_are_refused() -> None:
    data = _table()
    entries = data["price"]
    assert isinstance(entries, list)
    data["price"] = [entries[0], dict(entries[0])]
    with pytest.raises(PriceTableError, match="share an effective date"):
        PriceTable.from_mapping(data)
