"""The mock's embeddings (pure): deterministic unit vectors in OpenAI's shape.

One vector per input, in input order: a string, an array of strings, a token
array or an array of token arrays. `dimensions` (1..MAX_DIMENSIONS) sets the
length, default DEFAULT_DIMENSIONS; `encoding_format: base64` returns each
vector as little-endian float32 bytes in base64, as OpenAI does. Tokens billed:
the mock tokenizer's count for texts, the array length for token arrays.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from typing import Any

from services.provider.adapters.base import Usage
from services.provider.adapters.mock.tokens import count_text

__all__ = ["DEFAULT_DIMENSIONS", "MAX_DIMENSIONS", "EmbeddingError", "embeddings"]

Json = dict[str, Any]
DEFAULT_DIMENSIONS = 16
MAX_DIMENSIONS = 256


class EmbeddingError(ValueError):
    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


def _inputs(value: Any) -> list[str | list[int]]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return [value]
        if all(isinstance(v, str) for v in value):
            return list(value)
        if all(isinstance(v, list) and v and all(isinstance(t, int) for t in v) for v in value):
            return list(value)
    raise EmbeddingError(
        "'input' must be a string, an array of strings, an array of token ids or an array "
        "of token arrays.",
        "input",
    )


def _dimensions(value: Any) -> int:
    if value is None:
        return DEFAULT_DIMENSIONS
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DIMENSIONS:
        raise EmbeddingError(
            f"'dimensions' must be an integer from 1 to {MAX_DIMENSIONS}.", "dimensions"
        )
    return value


def _vector(value: str | list[int], dimensions: int) -> list[float]:
    seed = hashlib.sha256(repr(value).encode()).digest()
    raw = [(seed[i % len(seed)] - 127.5) / 127.5 + i / 1000 for i in range(dimensions)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [struct.unpack("<f", struct.pack("<f", x / norm))[0] for x in raw]


def embeddings(body: Json, *, model: str) -> tuple[Json, Usage]:
    inputs = _inputs(body.get("input"))
    dimensions = _dimensions(body.get("dimensions"))
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise EmbeddingError("'encoding_format' must be 'float' or 'base64'.", "encoding_format")
    data = []
    for index, value in enumerate(inputs):
        vector = _vector(value, dimensions)
        encoded: Any = vector
        if encoding == "base64":
            encoded = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = sum(len(v) if isinstance(v, list) else count_text(v) for v in inputs)
    body_out = {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    return body_out, Usage(prompt_tokens=tokens)
