"""OpenAI: the reference OpenAI-compatible provider (data only; see ../openai_compat).

Golden fixtures: tests/fixtures/providers/openai/.
"""

from __future__ import annotations

from services.provider.adapters.base import ALL_CAPABILITIES
from services.provider.adapters.openai_compat import CompatSpec, provider_spec
from services.provider.vocabulary import QUOTA_EXHAUSTED, Refinement, Vocabulary

__all__ = ["PROVIDER", "SPEC", "VOCABULARY"]

# A 429 whose type or code is `insufficient_quota` is not a rate limit: the account
# is out of credit, which no retry fixes. Keys start `sk-` (`sk-proj-`, `sk-svcacct-`).
# https://platform.openai.com/docs/guides/error-codes
VOCABULARY = Vocabulary(
    refinements=(Refinement(frozenset({"insufficient_quota"}), QUOTA_EXHAUSTED, status=429),),
    key_prefixes=("sk-",),
)

# Every documented parameter passes through unchanged: no renames, no rules.
# https://platform.openai.com/docs/api-reference/chat/create
SPEC = CompatSpec(
    name="openai",
    base_url="https://api.openai.com/v1",  # OPENAI_BASE_URL convention: includes /v1
    chat_path="/chat/completions",
    completions_path="/completions",  # legacy text completions
    # https://platform.openai.com/docs/api-reference/embeddings/create
    embeddings_path="/embeddings",
    api_key_env="OPENAI_API_KEY",
    base_url_env="OPENAI_BASE_URL",
    capabilities=ALL_CAPABILITIES,
    docs="https://platform.openai.com/docs/api-reference",
    vocabulary=VOCABULARY,
)

PROVIDER = provider_spec(SPEC)
