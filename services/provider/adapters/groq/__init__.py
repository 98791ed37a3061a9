"""Groq: an OpenAI-compatible provider (data only; see ../openai_compat).

Golden fixtures: tests/fixtures/providers/groq/.
"""

from __future__ import annotations

from types import MappingProxyType

from services.provider.adapters.base import Capability
from services.provider.adapters.openai_compat import (
    CompatSpec,
    ParamAction,
    ParamRule,
    provider_spec,
)
from services.provider.vocabulary import CAPACITY_EXCEEDED, Vocabulary

__all__ = ["PROVIDER", "SPEC", "VOCABULARY"]

DOCS = "https://console.groq.com/docs/openai"

# From DOCS, "Currently Unsupported OpenAI Features": "The following fields are
# currently not supported and will result in a 400 error if they are supplied:
# logprobs, logit_bias, top_logprobs, messages[].name; if N is supplied, it must
# be equal to 1." There is no legacy text-completions endpoint. (A temperature of
# 0 is accepted; Groq turns it into 1e-8 itself, so nothing to do here.)
_RULES = (
    # A value that means "off" is dropped; anything that asks for the feature is
    # refused, because silently ignoring it would hand back a different answer.
    ParamRule("logprobs", ParamAction.REFUSE, harmless=(None, False),
              reason="Groq does not return log probabilities"),
    ParamRule("top_logprobs", ParamAction.REFUSE, harmless=(None, 0),
              reason="Groq does not return log probabilities"),
    ParamRule("logit_bias", ParamAction.REFUSE, harmless=(None,), harmless_empty=True,
              reason="Groq does not support logit bias"),
    ParamRule("n", ParamAction.REFUSE, harmless=(None, 1),
              reason="Groq returns exactly one choice; n must be 1"),
    # Participant names are only a hint to the model; agent frameworks set them on
    # every message, so refusing would make Groq unusable for them. Dropped.
    ParamRule("messages[].name", ParamAction.DROP,
              reason="Groq does not accept participant names"),
)  # fmt: skip

# The flex tier answers 498 `capacity_exceeded` when it is full and asks to retry
# later (https://console.groq.com/docs/flex-processing). Keys start `gsk_`.
VOCABULARY = Vocabulary(
    statuses=MappingProxyType({498: CAPACITY_EXCEEDED}),
    key_prefixes=("gsk_",),
)

SPEC = CompatSpec(
    name="groq",
    base_url="https://api.groq.com",  # the Groq SDK's base: no /openai/v1
    chat_path="/openai/v1/chat/completions",
    completions_path=None,
    api_key_env="GROQ_API_KEY",
    base_url_env="GROQ_BASE_URL",
    capabilities=frozenset(
        {
            Capability.CAPABILITY_CHAT,
            Capability.CAPABILITY_STREAMING,
            Capability.CAPABILITY_TOOLS,
            Capability.CAPABILITY_PARALLEL_TOOLS,
            Capability.CAPABILITY_VISION,
            Capability.CAPABILITY_JSON_MODE,
            Capability.CAPABILITY_JSON_SCHEMA,
        }
    ),
    rules=_RULES,
    # Groq's own extension object: request id, and in streams the usage of the
    # last chunk (https://console.groq.com/docs/api-reference#chat-create).
    private_fields=("x_groq",),
    usage_fallbacks=(("x_groq", "usage"),),
    stream_error_fallbacks=(("x_groq", "error"),),
    docs=DOCS,
    vocabulary=VOCABULARY,
)

PROVIDER = provider_spec(SPEC)
