"""Opaque page tokens for keyset pagination: the last row's sort key plus a
fingerprint of the query, so a token cannot be replayed against other filters."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from typing import Any

import orjson

__all__ = ["PageTokenError", "decode_token", "encode_token", "fingerprint"]


class PageTokenError(ValueError):
    """The token is malformed or belongs to a different query."""


def fingerprint(*parts: Any) -> str:
    return hashlib.sha256(orjson.dumps(list(parts))).hexdigest()[:16]


def encode_token(query_fingerprint: str, last_key: Sequence[Any]) -> str:
    raw = orjson.dumps({"f": query_fingerprint, "k": list(last_key)})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, query_fingerprint: str, key_size: int) -> tuple[Any, ...] | None:
    if not token:
        return None
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        key = tuple(data["k"])
        matches = data["f"] == query_fingerprint
    except (ValueError, KeyError, TypeError):
        raise PageTokenError("page_token is malformed") from None
    if not matches or len(key) != key_size:
        raise PageTokenError("page_token belongs to a different query; start again without it")
    return key
