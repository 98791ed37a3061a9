"""OpenAI: the reference OpenAI-compatible provider (data only; see ../openai_compat).

Golden fixtures: tests/fixtures/providers/openai/.
"""

from __future__ import annotations

from services.provider.adapters.base import Capability
from services.provider.adapters.openai_compat import CompatSpec, provider_spec

__all__ = ["PROVIDER", "SPEC"]

# Every documented parameter passes through unchanged: no renames, no rules.
# https://platform.openai.com/docs/api-reference/chat/create
SPEC = CompatSpec(
    name="openai",
    base_url="https://api.openai.com/v1",  # OPENAI_BASE_URL convention: includes /v1
    chat_path="/chat/completions",
    completions_path="/completions",  # legacy text completions
    api_key_env="OPENAI_API_KEY",
    base_url_env="OPENAI_BASE_URL",
    capabilities=frozenset(Capability),
    docs="https://platform.openai.com/docs/api-reference",
)

PROVIDER = provider_spec(SPEC)
