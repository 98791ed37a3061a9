"""Every provider under test. To add one: write `entry_<name>.py` exporting `ENTRY`
(see harness.py and entry_mock.py) and add its import and name below."""

from __future__ import annotations

from tests.provider.conformance.entry_anthropic import ENTRY as ANTHROPIC
from tests.provider.conformance.entry_groq import ENTRY as GROQ
from tests.provider.conformance.entry_mock import ENTRY as MOCK
from tests.provider.conformance.entry_openai import ENTRY as OPENAI
from tests.provider.conformance.harness import ProviderUnderTest

ENTRIES: tuple[ProviderUnderTest, ...] = (MOCK, OPENAI, GROQ, ANTHROPIC)
