"""OpenAI's embeddings endpoint for the emulator (platform.openai.com/docs/api-reference/
embeddings): validation with the API's messages, and deterministic vectors.

`input` is a string, an array of strings, an array of token ids or an array of token
arrays (at most 2048 inputs); `encoding_format` is `float` (default) or `base64`
(little-endian float32, what the official SDK asks for when the caller sets
nothing); `dimensions` shortens the vector (text-embedding-3 models only). Every
vector is unit length, derived from its input, so a test can recompute it.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from typing import Any

__all__ = ["EMBEDDING_DIMENSIONS", "embeddings_body", "invalid_embeddings", "vector_for"]

Json = dict[str, Any]
EMBEDDING_DIMENSIONS = 32  # the emulator's full vector size
_MAX_INPUTS = 2048


def _inputs(value: Any) -> list[Any] | None:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not value:
        return None
    if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return [value]  # one token array
    if all(isinstance(v, str) for v in value):
        return value
    if all(isinstance(v, list) and all(isinstance(t, int) for t in v) and v for v in value):
        return value
    return None


def invalid_embeddings(body: Json) -> str | None:
    """The API's 400 message for a body it rejects, else None."""
    if not isinstance(body.get("model"), str):
        return "you must provide a model parameter"
    inputs = _inputs(body.get("input"))
    if inputs is None:
        return "'input' : input must be a string, an array of strings, or an array of tokens"
    if len(inputs) > _MAX_INPUTS:
        return f"'input' : array too long. Expected an array with maximum length {_MAX_INPUTS}"
    if body.get("encoding_format", "float") not in ("float", "base64"):
        return "'encoding_format': must be 'float' or 'base64'"
    dimensions = body.get("dimensions")
    if dimensions is not None and (
        not isinstance(dimensions, int) or not 1 <= dimensions <= EMBEDDING_DIMENSIONS
    ):
        return f"'dimensions': must be between 1 and {EMBEDDING_DIMENSIONS}"
    return None


def vector_for(value: Any, dimensions: int = EMBEDDING_DIMENSIONS) -> list[float]:
    """The unit vector the emulator returns for one input (a string or token ids)."""
    seed = hashlib.sha256(repr(value).encode()).digest()
    raw = [(seed[i % len(seed)] - 127.5) / 127.5 + i / 1000 for i in range(dimensions)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    # Rounded through float32, as the API's vectors are.
    return [struct.unpack("<f", struct.pack("<f", x / norm))[0] for x in raw]


def _tokens(value: Any) -> int:
    return len(value) if isinstance(value, list) else max(1, len(value.split()))


def embeddings_body(body: Json) -> Json:
    inputs = _inputs(body.get("input")) or []
    dimensions = body.get("dimensions") or EMBEDDING_DIMENSIONS
    data = []
    for index, value in enumerate(inputs):
        vector = vector_for(value, dimensions)
        encoded: Any = vector
        if body.get("encoding_format") == "base64":
            encoded = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = sum(_tokens(value) for value in inputs)
    return {
        "object": "list",
        "data": data,
        "model": body["model"],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
