"""Which OpenAI request parameters the Anthropic adapter maps, drops or refuses.

One table per operation, read top to bottom by `check_parameters`. A parameter is
either *mapped* (translate.py turns it into a Messages API field), *dropped*
(accepted and ignored because ignoring it cannot change the answer the client
relies on), or *refused* with INVALID_ARGUMENT naming it, unless it holds its
neutral value (`n: 1`, `logprobs: false`, `presence_penalty: 0`, ...). Anything
not in the table is refused, as OpenAI itself refuses unknown arguments.

References: Messages API parameters (platform.claude.com/docs/en/api/messages/create),
OpenAI SDK compatibility notes (platform.claude.com/docs/en/api/openai-sdk).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import grpc

from services.kernel.errors import GatewayError
from services.provider.adapters.base import Operation

__all__ = ["RULES", "Rule", "check_parameters", "invalid"]


def invalid(code: str, message: str, param: str | None) -> GatewayError:
    """A client error in the request, as the client sees it (HTTP 400)."""
    return GatewayError(
        grpc.StatusCode.INVALID_ARGUMENT, code, message, type="invalid_request_error", param=param
    )


@dataclass(frozen=True, slots=True)
class Rule:
    action: str  # "map" | "drop" | "refuse"
    why: str = ""
    neutral: Callable[[Any], bool] = lambda value: value is None


def _none_or(*values: Any) -> Callable[[Any], bool]:
    return lambda value: value is None or (not isinstance(value, bool) and value in values)


def _falsy(value: Any) -> bool:
    return value is None or value is False or value in (0, {}, [])


MAP = Rule("map")
_CHAT_MAPPED = (
    *("model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens"),
    *("temperature", "top_p", "stop", "tools", "tool_choice", "parallel_tool_calls"),
    *("response_format", "user", "safety_identifier"),
)
_COMPLETIONS_MAPPED = (
    *("model", "prompt", "stream", "stream_options", "max_tokens", "temperature", "top_p"),
    *("stop", "user"),
)
_NO_CHOICES = (
    "Anthropic returns one choice per request; omit it (or send 1) and send several requests."
)
_NO_LOGPROBS = "Anthropic does not return token log probabilities."
_NO_PENALTY = "Anthropic has no presence or frequency penalties; omit it or send 0."
_NO_BIAS = "Anthropic has no token bias control."
_DROPS = {
    "seed": Rule(
        "drop", "no seed on Anthropic; OpenAI documents seeded determinism as best effort"
    ),
    "store": Rule("drop", "OpenAI-side storage of the completion; nothing to store upstream"),
    "metadata": Rule("drop", "OpenAI dashboard tags; they do not reach the model"),
    "service_tier": Rule("drop", "OpenAI capacity tiers; Anthropic's tiers differ in meaning"),
    "prompt_cache_key": Rule("drop", "Anthropic caches by explicit prefixes, not by key"),
}

_CHAT: dict[str, Rule] = {
    **dict.fromkeys(_CHAT_MAPPED, MAP),
    **_DROPS,
    "n": Rule("refuse", _NO_CHOICES, _none_or(1)),
    "logprobs": Rule("refuse", _NO_LOGPROBS, _falsy),
    "top_logprobs": Rule("refuse", _NO_LOGPROBS, _falsy),
    "logit_bias": Rule("refuse", _NO_BIAS, _falsy),
    "presence_penalty": Rule("refuse", _NO_PENALTY, _falsy),
    "frequency_penalty": Rule("refuse", _NO_PENALTY, _falsy),
    "modalities": Rule("refuse", "Anthropic answers with text only.", _none_or(["text"])),
    "audio": Rule("refuse", "Anthropic does not produce audio."),
    "prediction": Rule("refuse", "Anthropic has no predicted outputs."),
    "web_search_options": Rule(
        "refuse", "Use a function tool; OpenAI's web search is not available."
    ),
    "reasoning_effort": Rule("refuse", "Reasoning effort is not mapped for Anthropic models yet."),
    "verbosity": Rule("refuse", "Anthropic has no verbosity control."),
    "functions": Rule("refuse", "The legacy `functions` parameter is not supported; use `tools`."),
    "function_call": Rule("refuse", "Legacy `function_call` is not supported; use `tool_choice`."),
}

_COMPLETIONS: dict[str, Rule] = {
    **dict.fromkeys(_COMPLETIONS_MAPPED, MAP),
    **_DROPS,
    "n": Rule("refuse", _NO_CHOICES, _none_or(1)),
    "best_of": Rule("refuse", _NO_CHOICES, _none_or(1)),
    "logprobs": Rule("refuse", _NO_LOGPROBS, lambda value: value is None),
    "echo": Rule("refuse", "Anthropic cannot echo the prompt back.", _falsy),
    "suffix": Rule("refuse", "Anthropic has no insertion (suffix) mode."),
    "logit_bias": Rule("refuse", _NO_BIAS, _falsy),
    "presence_penalty": Rule("refuse", _NO_PENALTY, _falsy),
    "frequency_penalty": Rule("refuse", _NO_PENALTY, _falsy),
}

RULES: Mapping[Operation, Mapping[str, Rule]] = {
    Operation.CHAT: _CHAT,
    Operation.COMPLETIONS: _COMPLETIONS,
}


def check_parameters(body: Mapping[str, Any], operation: Operation) -> None:
    """Refuse the first parameter the table refuses (or does not know)."""
    rules = RULES[operation]
    for name, value in body.items():
        rule = rules.get(name)
        if rule is None:
            raise invalid(
                "unsupported_parameter",
                f"Unsupported parameter '{name}' for Anthropic models; remove it.",
                name,
            )
        if rule.action == "refuse" and not rule.neutral(value):
            raise invalid(
                "unsupported_parameter",
                f"Parameter '{name}' is not supported for Anthropic models: {rule.why}",
                name,
            )
