"""Wire-format builders for the OpenAI-compatible emulator: response bodies,
stream chunks, usage and error bodies exactly as OpenAI (or Groq) sends them.

Shapes follow OpenAI's API reference (chat.completion, chat.completion.chunk,
text_completion, CompletionUsage, the `{"error": {message, type, param, code}}`
error object) and Groq's (https://console.groq.com/docs/api-reference,
https://console.groq.com/docs/errors): Groq's usage adds queue/prompt/
completion/total times, its bodies carry `x_groq` (request id; usage in the last
stream chunk) and its error objects have no `param`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

Json = dict[str, Any]
Flavor = Literal["openai", "groq"]

CREATED = 1_760_000_000  # a fixed timestamp: responses are deterministic
FINGERPRINT = "fp_emu0001"


@dataclass(frozen=True, kw_only=True)
class ToolCall:
    name: str
    arguments: str  # a JSON string, streamed in fragments
    id: str = ""  # default: call_emu_<n>


@dataclass(frozen=True, kw_only=True)
class Behaviour:
    """How the response is delivered (shared by replies and faults)."""

    delay_s: float = 0.0  # slow first byte: wait before the status line
    hold: bool = False  # wait for `emulator.release()` before the status line
    hang: bool = False  # never answer (until the client goes away or the emulator closes)


@dataclass(frozen=True, kw_only=True)
class Reply(Behaviour):
    """A successful answer. Token counts default to deterministic estimates."""

    text: str | None = "Hello! How can I help you today?"
    texts: tuple[str, ...] = ()  # one per choice when n > 1 (else `text` for every choice)
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str | None = None  # default: tool_calls / stop
    model: str | None = None  # default: the requested model
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    fragment_chars: int = 6  # tool-call argument fragment size in streams
    # stream faults: after this many chunks ...
    disconnect_after: int | None = None  # ... drop the connection (no [DONE])
    error_after: int | None = None  # ... send an in-band error event and stop
    stall_after: int | None = None  # ... stop sending (hang) without closing


@dataclass(frozen=True, kw_only=True)
class Fault(Behaviour):
    """An error answer with the provider's real error body and headers."""

    status: int
    message: str | None = None
    type: str | None = None
    code: str | None = None
    param: str | None = None
    retry_after: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    raw_body: bytes | None = None  # e.g. an HTML page from a proxy
    content_type: str = "application/json"


@dataclass
class Counter:
    value: int = 0
    names: dict[str, int] = field(default_factory=dict)

    def next(self) -> int:
        self.value += 1
        return self.value


# ---- errors ---------------------------------------------------------------------------

_DEFAULT_ERRORS: dict[int, tuple[str, str, str | None]] = {
    400: ("Invalid request.", "invalid_request_error", None),
    401: ("Invalid API Key", "invalid_request_error", "invalid_api_key"),
    403: ("Project does not have access to this model.", "invalid_request_error", None),
    404: (
        "The model does not exist or you do not have access to it.",
        "invalid_request_error",
        "model_not_found",
    ),
    408: ("Request timed out.", "server_error", None),
    409: ("Conflict.", "invalid_request_error", None),
    413: ("Request too large.", "invalid_request_error", None),
    422: ("Unprocessable entity.", "invalid_request_error", None),
    429: (
        "Rate limit reached for requests. Please try again in 1s.",
        "requests",
        "rate_limit_exceeded",
    ),
    498: (
        "Flex tier capacity exceeded. Please try again later.",
        "invalid_request_error",
        "capacity_exceeded",
    ),
    500: (
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
        None,
    ),
    502: ("Bad gateway.", "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
    504: ("Gateway timeout.", "server_error", None),
}


def error_body(flavor: Flavor, status: int, fault: Fault | None = None) -> Json:
    """The provider's error object. A fault's `code=None` means the status's usual
    code; `code=""` means none (`null` for OpenAI, absent for Groq)."""
    message, etype, code = _DEFAULT_ERRORS.get(status, ("Upstream error.", "server_error", None))
    if fault is not None and fault.code is not None:
        code = fault.code or None
    error: Json = {
        "message": fault.message if fault and fault.message else message,
        "type": fault.type if fault and fault.type else etype,
    }
    if flavor == "openai":
        error["param"] = fault.param if fault else None
        error["code"] = code
    elif code:  # Groq leaves `param` out and sets `code` only when it has one
        error["code"] = code
    return {"error": error}


def mask_key(key: str) -> str:
    """How OpenAI echoes a wrong key in its 401 message (a trap for error tables)."""
    return key[:3] + "*" * max(len(key) - 7, 0) + key[-4:] if len(key) > 8 else "***"


# ---- usage ----------------------------------------------------------------------------


def usage_body(flavor: Flavor, reply: Reply, prompt: int, completion: int, *, legacy: bool) -> Json:
    total = prompt + completion
    if flavor == "groq":
        usage: Json = {
            "queue_time": 0.0125,
            "prompt_tokens": prompt,
            "prompt_time": 0.0021,
            "completion_tokens": completion,
            "completion_time": 0.0234,
            "total_tokens": total,
            "total_time": 0.0255,
        }
        if reply.cached_tokens:
            usage["prompt_tokens_details"] = {"cached_tokens": reply.cached_tokens}
        return usage
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}
    if not legacy:
        usage["prompt_tokens_details"] = {"cached_tokens": reply.cached_tokens, "audio_tokens": 0}
        usage["completion_tokens_details"] = {
            "reasoning_tokens": reply.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        }
    return usage


def estimate_prompt_tokens(body: Json) -> int:
    messages = body.get("messages")
    if isinstance(messages, list):
        return sum(3 + _words(m.get("content")) for m in messages if isinstance(m, dict)) + 3
    return _words(body.get("prompt")) + 1


def _words(content: object) -> int:
    if isinstance(content, str):
        return len(content.split())
    if isinstance(content, list):
        return sum(_words(p.get("text")) if isinstance(p, dict) else _words(p) for p in content)
    return 0


def fragments(text: str) -> list[str]:
    """Split text the way a tokenizer-driven stream would: words with their spaces."""
    return re.findall(r"\S+\s*|\s+", text) or [text]


def arg_fragments(arguments: str, size: int) -> list[str]:
    return [arguments[i : i + size] for i in range(0, len(arguments), size)] or [""]


# ---- logprobs -------------------------------------------------------------------------


def chat_logprobs(pieces: list[str], top: int) -> Json:
    content = []
    for piece in pieces:
        entry: Json = {"token": piece, "logprob": -0.25, "bytes": list(piece.encode())}
        entry["top_logprobs"] = [{"token": piece, "logprob": -0.25, "bytes": list(piece.encode())}][
            :top
        ] + [
            {"token": f"alt{k}", "logprob": -2.0 - k, "bytes": list(f"alt{k}".encode())}
            for k in range(max(top - 1, 0))
        ]
        content.append(entry)
    return {"content": content, "refusal": None}


def legacy_logprobs(pieces: list[str], top: int) -> Json:
    offsets, position = [], 0
    for piece in pieces:
        offsets.append(position)
        position += len(piece)
    return {
        "tokens": pieces,
        "token_logprobs": [-0.25 for _ in pieces],
        "top_logprobs": [{piece: -0.25} for piece in pieces] if top else None,
        "text_offset": offsets,
    }


# ---- stream deltas --------------------------------------------------------------------


def chat_deltas(
    flavor: Flavor, reply: Reply, text: str | None, call_ids: list[str]
) -> Iterator[Json]:
    """The deltas of one choice, in order (without the finish delta)."""
    first: Json = {"role": "assistant", "content": "" if text is not None else None}
    if flavor == "openai":
        first["refusal"] = None
    yield first
    for piece in fragments(text) if text else []:
        yield {"content": piece}
    for k, call in enumerate(reply.tool_calls):
        yield {
            "tool_calls": [
                {
                    "index": k,
                    "id": call_ids[k],
                    "type": "function",
                    "function": {"name": call.name, "arguments": ""},
                }
            ]
        }
        for piece in arg_fragments(call.arguments, reply.fragment_chars):
            yield {"tool_calls": [{"index": k, "function": {"arguments": piece}}]}
