"""Error responses from the error catalogue: one per HTTP status, in each
surface's body shape, listing the codes that status carries."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from tools.docgen.catalogue import Entry
from tools.docgen.error_codes import ROOT

__all__ = ["ERROR_SCHEMAS", "error_responses", "responses_for"]

# The native API's error body: google.rpc.Status as the transcoder prints it.
ERROR_SCHEMAS: dict[str, Any] = {
    "Status": {
        "type": "object",
        "description": "google.rpc.Status: the native REST API's error body (docs/errors.md).",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "integer", "description": "The google.rpc.Code number."},
            "message": {"type": "string", "description": "What went wrong and what to do."},
            "details": {
                "type": "array",
                "items": {
                    "type": "object",
                    "description": "`google.rpc.ErrorInfo` (`reason` = the code in upper case, "
                    "`metadata.http_status`, `metadata.retryable`, `metadata.param`) and "
                    "`google.rpc.RetryInfo`.",
                    "properties": {
                        "@type": {"type": "string"},
                        "reason": {"type": "string"},
                        "domain": {"type": "string"},
                        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                    },
                    "additionalProperties": True,
                },
            },
        },
    }
}
_SURFACES = {"openai": "OpenAIError", "native": "Status", "anthropic": "AnthropicError"}
_EDGE_FILTER = ROOT / "gateway" / "edge_filter.lua"
_MESSAGES_TABLE = re.compile(r"MESSAGES_TYPE_BY_STATUS\s*=\s*\{(.*?)\n\}", re.S)
_LUA_PAIR = re.compile(r'\[(\d+)\]\s*=\s*"(\w+)"')


def _messages_types() -> dict[int, str]:
    """The Messages API's error `type` by status, as the edge filter renders it."""
    found = _MESSAGES_TABLE.search(_EDGE_FILTER.read_text()) if _EDGE_FILTER.is_file() else None
    return {int(k): v for k, v in _LUA_PAIR.findall(found.group(1))} if found else {}


def _anthropic(entry: Entry, types: dict[int, str]) -> tuple[int, dict[str, Any]]:
    """(status, body) on the Messages API paths: 503 becomes 529 (overloaded)."""
    status = 529 if entry.http_status == 503 else entry.http_status
    kind = types.get(status) or ("api_error" if status >= 500 else "invalid_request_error")
    return status, {"type": "error", "error": {"type": kind, "message": entry.meaning}}


def _by_status(entries: list[Entry]) -> dict[int, list[Entry]]:
    grouped: dict[int, list[Entry]] = defaultdict(list)
    for entry in entries:
        if entry.http_status >= 400:
            grouped[entry.http_status].append(entry)
    return dict(sorted(grouped.items()))


def _response(schema: str, items: list[tuple[Entry, dict[str, Any]]]) -> dict[str, Any]:
    codes = ", ".join(f"`{entry.code}`" for entry, _ in items)
    return {
        "description": f"Error codes: {codes}. See docs/errors.md.",
        "content": {
            "application/json": {
                "schema": {"$ref": f"#/components/schemas/{schema}"},
                "examples": {e.code: {"summary": e.meaning, "value": body} for e, body in items},
            }
        },
    }


def _statuses(surface: str, entries: list[Entry]) -> dict[int, list[tuple[Entry, dict[str, Any]]]]:
    grouped: dict[int, list[tuple[Entry, dict[str, Any]]]] = defaultdict(list)
    types = _messages_types()
    for status, items in _by_status(entries).items():
        for entry in items:
            if surface == "anthropic":
                shown, body = _anthropic(entry, types)
            else:
                body = entry.openai_body() if surface == "openai" else entry.status_body()
                shown = status
            grouped[shown].append((entry, body))
    return dict(sorted(grouped.items()))


def error_responses(entries: list[Entry]) -> dict[str, Any]:
    """`components.responses`: `openai_404`, `native_404`, `anthropic_529`, ... each with
    every code of that status, in that surface's body shape."""
    return {
        f"{surface}_{status}": _response(schema, items)
        for surface, schema in _SURFACES.items()
        for status, items in _statuses(surface, entries).items()
    }


def responses_for(surface: str, entries: list[Entry]) -> dict[str, Any]:
    """The error part of an operation's `responses`, by reference."""
    return {
        str(status): {"$ref": f"#/components/responses/{surface}_{status}"}
        for status in _statuses(surface, entries)
    }
