"""Which tools the mock calls, and arguments that fit their JSON schemas (pure).

The mock calls tools when `tool_choice` is "required" (the tools the last user
message names, else the first tool) or names a function (that one), and with
`tool_choice` "auto"/absent when the last user message names tools (each named
tool, in the order mentioned). `parallel_tool_calls: false` keeps only the first.
It never calls a tool right after a tool result, nor with `tool_choice` "none".
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = ["PlannedCall", "ToolChoiceError", "example_value", "plan_tool_calls"]

_MAX_DEPTH = 6
_STRING_FORMATS = {
    "date": "2024-01-01",
    "date-time": "2024-01-01T00:00:00Z",
    "time": "00:00:00",
    "email": "mock@example.com",
    "uri": "https://example.com/mock",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


class ToolChoiceError(ValueError):
    """The request's tools or tool_choice are invalid (a 400 upstream)."""


@dataclass(frozen=True, slots=True)
class PlannedCall:
    id: str
    name: str
    arguments: str  # a JSON object, as OpenAI sends it


def _first_type(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        return str(kinds[0]) if kinds else "null"
    return str(kind) if kind else ("object" if "properties" in schema else "string")


def _scalar(kind: str, schema: dict[str, Any], name: str) -> Any:
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return schema.get("minimum", 1.5)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt in _STRING_FORMATS:
        return _STRING_FORMATS[fmt]
    return f"mock {name}".strip()


def _fixed(schema: dict[str, Any]) -> tuple[bool, Any]:
    """A value the schema pins down (const, default, first enum member), if any."""
    for key in ("const", "default"):
        if key in schema:
            return True, schema[key]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return True, schema["enum"][0]
    return False, None


def example_value(schema: Any, name: str = "", depth: int = 0) -> Any:
    """A deterministic value satisfying `schema`'s types, enums and required properties."""
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return f"mock {name}".strip()
    pinned, value = _fixed(schema)
    if pinned:
        return value
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            return example_value(options[0], name, depth + 1)
    kind = _first_type(schema)
    if kind == "object":
        properties = schema.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        required = [k for k in schema.get("required") or () if isinstance(k, str)]
        return {key: example_value(properties.get(key, {}), key, depth + 1) for key in required}
    if kind == "array":
        count = int(schema.get("minItems", 0) or 0)
        return [example_value(schema.get("items", {}), name, depth + 1) for _ in range(count)]
    return _scalar(kind, schema, name)


def _functions(tools: Any) -> list[dict[str, Any]]:
    functions: list[dict[str, Any]] = []
    for tool in tools or ():
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise ToolChoiceError(
                "each tool must be {'type': 'function', 'function': {'name': ...}}"
            )
        functions.append(function)
    return functions


def _mentioned(functions: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    found = []
    for function in functions:
        match = re.search(rf"(?<!\w){re.escape(function['name'])}(?!\w)", text)
        if match:
            found.append((match.start(), function))
    return [function for _, function in sorted(found, key=lambda item: item[0])]


def _chosen(functions: list[dict[str, Any]], choice: Any, user_text: str) -> list[dict[str, Any]]:
    if isinstance(choice, dict):
        wanted = (choice.get("function") or {}).get("name")
        named = [f for f in functions if f["name"] == wanted]
        if not named:
            raise ToolChoiceError(f"tool_choice names {wanted!r}, which is not among the tools")
        return named
    if choice == "none":
        return []
    mentioned = _mentioned(functions, user_text)
    if choice == "required":
        return mentioned or functions[:1]
    return mentioned


def plan_tool_calls(body: dict[str, Any], user_text: str, salt: str) -> list[PlannedCall]:
    """The tool calls the mock makes for this request (empty: answer in text)."""
    functions = _functions(body.get("tools"))
    messages = body.get("messages") or []
    if not functions or (messages and messages[-1].get("role") == "tool"):
        return []
    chosen = _chosen(functions, body.get("tool_choice"), user_text)
    if body.get("parallel_tool_calls") is False:
        chosen = chosen[:1]
    calls = []
    for index, function in enumerate(chosen):
        schema = function.get("parameters")
        schema = schema if isinstance(schema, dict) else {}
        arguments = orjson.dumps(example_value({"type": "object", **schema})).decode()
        digest = hashlib.sha256(f"{salt}|{index}|{function['name']}".encode()).hexdigest()
        calls.append(
            PlannedCall(id=f"call_{digest[:24]}", name=function["name"], arguments=arguments)
        )
    return calls
