"""The admission estimate bounds what billing will charge: for every price in the
shipped table, long-context rates included, however the prompt splits into fresh,
cached and cache-write tokens and the completion into output and reasoning, billing
never charges more than the estimate — and for fresh tokens at rates no dearer than
the base ones the two agree to the last digit."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.client.pricing import Priced, UsageTokens, default_table, price
from services.router.routing.prices import estimate_usd

_TABLE = default_table()
_ROUTES = sorted({(entry.provider, entry.model) for entry in _TABLE.entries})
_AT = dt.datetime.now(dt.UTC)


@settings(max_examples=300)
@given(
    st.sampled_from(_ROUTES),
    st.integers(min_value=1, max_value=3_000_000),
    st.integers(min_value=0, max_value=200_000),
)
def test_the_estimate_is_what_billing_charges(
    route: tuple[str, str], prompt_tokens: int, completion_tokens: int
) -> None:
    provider, model = route
    usage = UsageTokens(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
    billed = price(model, usage, _AT, provider=provider, table=_TABLE)
    estimate = estimate_usd(_TABLE, [route], prompt_tokens, completion_tokens, at=_AT)
    if not isinstance(billed, Priced):
        assert estimate is None
        return
    assert estimate is not None and estimate >= billed.cost_usd
    entry = _TABLE.lookup(provider, model, _AT)
    assert entry is not None
    rates = entry.rates_for(prompt_tokens)
    if (rates.cache_write or 0) <= rates.input and (rates.reasoning or 0) <= rates.output:
        assert estimate == billed.cost_usd


@settings(max_examples=300)
@given(
    st.sampled_from(_ROUTES),
    st.integers(min_value=1, max_value=3_000_000),
    st.integers(min_value=0, max_value=200_000),
    st.data(),
)
def test_no_split_of_the_tokens_is_billed_above_the_estimate(
    route: tuple[str, str], prompt_tokens: int, completion_tokens: int, data: st.DataObject
) -> None:
    provider, model = route
    cached = data.draw(st.integers(min_value=0, max_value=prompt_tokens))
    written = data.draw(st.integers(min_value=0, max_value=prompt_tokens - cached))
    reasoning = data.draw(st.integers(min_value=0, max_value=completion_tokens))
    usage = UsageTokens(
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cached_tokens=cached,
        cache_creation_tokens=written,
        reasoning_tokens=reasoning,
    )
    billed = price(model, usage, _AT, provider=provider, table=_TABLE)
    estimate = estimate_usd(_TABLE, [route], prompt_tokens, completion_tokens, at=_AT)
    if isinstance(billed, Priced):
        assert estimate is not None and billed.cost_usd <= estimate


def test_the_dearest_route_bounds_a_model_and_an_unpriced_one_voids_it() -> None:
    first, second = _ROUTES[0], _ROUTES[-1]
    both = estimate_usd(_TABLE, [first, second], 1000, 1000, at=_AT)
    alone = [estimate_usd(_TABLE, [r], 1000, 1000, at=_AT) for r in (first, second)]
    assert both == max(a for a in alone if a is not None)
    assert estimate_usd(_TABLE, [first, ("nobody", "no-such-model")], 10, 10, at=_AT) is None
