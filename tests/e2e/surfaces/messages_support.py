"""What the Messages surface's end-to-end modules share: the tools, inputs and helpers
(the `claude` SDK fixture is in conftest.py)."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Edge
from tests.e2e.inputs import PARALLEL, PNG

__all__ = [
    "NATIVE",
    "PARALLEL",
    "PNG",
    "TIME",
    "WEATHER",
    "emulator",
    "last_body",
    "result",
    "use",
    "user",
]

WEATHER: Any = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
        "required": ["city"],
    },
}
TIME: Any = {
    "name": "get_time",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}
NATIVE = "anthropic"  # the backend that takes the Messages format as is


def emulator(edge: Edge, backend: str) -> Any:
    return getattr(edge.upstreams, backend, None)


def last_body(edge: Edge, backend: str) -> dict[str, Any]:
    body: dict[str, Any] = emulator(edge, backend).requests[-1].body
    return body


def user(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


def use(id_: str, name: str, input_: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_use", "id": id_, "name": name, "input": input_}


def result(id_: str, content: Any) -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": id_, "content": content}
