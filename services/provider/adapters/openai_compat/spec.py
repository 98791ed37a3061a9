"""The data that describes one OpenAI-compatible provider.

Everything that differs between OpenAI-compatible vendors is here, as data:
where to POST, how to authenticate, what the provider can do, and what to do
with each request parameter it does not accept. The shared adapter
(`adapter.py`) and the pure translation (`translate.py`, `stream.py`) read a
`CompatSpec`; they never branch on a provider's name.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from services.provider.adapters.base import Capability, CapabilityValue, Operation
from services.provider.vocabulary import GENERIC, Vocabulary

__all__ = ["CompatSpec", "ParamAction", "ParamRule"]

JsonScalar = str | int | float | bool | None

# Every parameter of OpenAI's Chat Completions and (legacy) Completions requests
# is passed through unchanged unless a rule below names it; so is any field we do
# not know. The only rewrites the adapter always makes are `model` (set to the
# deployment's upstream model) and, for streams, `stream_options.include_usage`.


class ParamAction(enum.StrEnum):
    DROP = "drop"  # removed silently (a debug log says so)
    REFUSE = "refuse"  # the call fails with INVALID_ARGUMENT naming the parameter


@dataclass(frozen=True, slots=True)
class ParamRule:
    """What to do with one request parameter the provider does not accept.

    `param` is a top-level field (`"logprobs"`) or a field of every message
    (`"messages[].name"`). A value listed in `harmless` means the same as leaving
    the parameter out (`logprobs: false`, `n: 1`), so it is dropped rather than
    refused. `reason` is quoted in the refusal and in the debug log.
    """

    param: str
    action: ParamAction
    harmless: tuple[JsonScalar, ...] = ()
    harmless_empty: bool = False  # also treat {} / [] as harmless (e.g. `logit_bias: {}`)
    reason: str = ""

    @property
    def message_field(self) -> str | None:
        """The field name when the rule targets every message, else None."""
        prefix = "messages[]."
        return self.param[len(prefix) :] if self.param.startswith(prefix) else None

    def is_harmless(self, value: object) -> bool:
        if self.harmless_empty and isinstance(value, dict | list) and not value:
            return True
        if isinstance(value, dict | list):
            return False
        # bool is an int in Python: `n: True` must not count as `n: 1`.
        return any(type(value) is type(ok) and value == ok for ok in self.harmless)


@dataclass(frozen=True, slots=True)
class CompatSpec:
    """One OpenAI-compatible provider, described as data.

    `base_url` is joined with a path by plain concatenation (never URL
    resolution), so a base that ends in `/v1` keeps it: OpenAI's base is
    `https://api.openai.com/v1` with path `/chat/completions`; Groq's base is
    `https://api.groq.com` with path `/openai/v1/chat/completions`.
    """

    name: str
    base_url: str
    chat_path: str
    capabilities: frozenset[CapabilityValue]
    completions_path: str | None = None  # None: no legacy /completions endpoint
    embeddings_path: str | None = None  # None: no /embeddings endpoint
    api_key_env: str = ""  # environment variable holding the configured key
    base_url_env: str = ""  # environment variable overriding `base_url`
    auth_header: str = "Authorization"
    auth_scheme: str = "Bearer"  # "" sends the bare key (e.g. `api-key: <key>`)
    extra_headers: tuple[tuple[str, str], ...] = ()
    renames: tuple[tuple[str, str], ...] = ()  # (unified name, provider name), top level
    rules: tuple[ParamRule, ...] = ()
    # Top-level fields of response bodies and chunks that are the provider's own
    # extensions; they are read (e.g. for usage) and then removed from what the
    # client sees.
    private_fields: tuple[str, ...] = ()
    # Where else usage may be found, as (field, subfield): Groq streams put it in
    # `x_groq.usage` of the last chunk.
    usage_fallbacks: tuple[tuple[str, str], ...] = ()
    # Where else a stream may report that it stopped early, as (field, subfield)
    # holding a message string: Groq uses `x_groq.error`.
    stream_error_fallbacks: tuple[tuple[str, str], ...] = ()
    docs: str = ""  # the page documenting the provider's OpenAI compatibility
    # The provider's own error words, rate-limit headers and key prefixes.
    vocabulary: Vocabulary = GENERIC

    def __post_init__(self) -> None:
        has_endpoint = self.completions_path is not None
        if has_endpoint != (Capability.CAPABILITY_COMPLETIONS in self.capabilities):
            raise ValueError(
                f"{self.name}: Capability.CAPABILITY_COMPLETIONS must be declared exactly when "
                "completions_path is set"
            )
        if (self.embeddings_path is not None) != (
            Capability.CAPABILITY_EMBEDDINGS in self.capabilities
        ):
            raise ValueError(
                f"{self.name}: Capability.CAPABILITY_EMBEDDINGS must be declared exactly when "
                "embeddings_path is set"
            )
        if Capability.CAPABILITY_CHAT not in self.capabilities:
            raise ValueError(f"{self.name}: an OpenAI-compatible provider must support chat")
        seen = [rule.param for rule in self.rules] + [old for old, _ in self.renames]
        duplicates = sorted({p for p in seen if seen.count(p) > 1})
        if duplicates:
            raise ValueError(f"{self.name}: more than one rule for {', '.join(duplicates)}")

    def path_for(self, operation: Operation) -> str | None:
        if operation is Operation.CHAT:
            return self.chat_path
        if operation is Operation.EMBEDDINGS:
            return self.embeddings_path
        return self.completions_path
