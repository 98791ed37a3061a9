"""Fixtures of the conformance suite: one parameter per provider under test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.provider.settings import Timeouts
from tests.provider.conformance.entries import ENTRIES
from tests.provider.conformance.harness import Built, ProviderUnderTest


@pytest.fixture(params=ENTRIES, ids=[entry.name for entry in ENTRIES])
def put(request: pytest.FixtureRequest) -> ProviderUnderTest:
    entry: ProviderUnderTest = request.param
    return entry


@pytest.fixture
async def built(put: ProviderUnderTest) -> AsyncIterator[Built]:
    async with put.build(Timeouts()) as ready:
        yield ready


@pytest.fixture
async def built_short_timeouts(put: ProviderUnderTest) -> AsyncIterator[Built]:
    async with put.build(
        Timeouts(connect_s=5.0, first_byte_s=0.2, total_s=30.0, stream_idle_s=0.2)
    ) as ready:
        yield ready
