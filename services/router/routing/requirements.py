"""Routing requirements a client states, parsed strictly.

Given in the body's extension object (`{"model": "auto", "agentopia":
{"requirements": {...}}}`) or as JSON in the `x-agentopia-requirements` header;
when both are present the body's fields win over the header's, field by field.
Every mistake is an INVALID_ARGUMENT `invalid_requirements` naming the field.

    {
      "capabilities": ["tools", "vision"],   # agentopia.v1.Capability short names
      "max_input_price": 1.0,                # USD per million input tokens
      "max_output_price": 4.0,               # USD per million output tokens
      "prefer": "cost" | "latency",
      "providers": ["provider-a", "provider-b"],   # allowed providers
      "exclude_providers": ["provider-c"],
      "min_context": 100000,                 # context window, tokens
      "max_latency_ms": 1500                 # expected time to first token
    }
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import grpc
import orjson

from services.kernel.errors import GatewayError
from services.router.routing.capabilities import Capabilities, parse_capabilities

__all__ = [
    "EXTENSION_KEY",
    "REQUIREMENTS_HEADER",
    "Prefer",
    "Requirements",
    "parse_requirements",
]

EXTENSION_KEY = "agentopia"
REQUIREMENTS_HEADER = "x-agentopia-requirements"
_BODY_PATH = f"{EXTENSION_KEY}.requirements"
_MAX_HEADER_BYTES = 4096


class Prefer(enum.StrEnum):
    COST = "cost"
    LATENCY = "latency"


@dataclass(frozen=True, slots=True)
class Requirements:
    capabilities: Capabilities = frozenset()
    max_input_price: float | None = None
    max_output_price: float | None = None
    prefer: Prefer | None = None  # None: not stated (auto ranks by cost)
    providers: frozenset[str] | None = None
    exclude_providers: frozenset[str] = frozenset()
    min_context: int | None = None
    max_latency_ms: float | None = None


NO_REQUIREMENTS = Requirements()


def parse_requirements(body: Mapping[str, Any], header: str | bytes | None = None) -> Requirements:
    """The requirements of a request (NO_REQUIREMENTS when none are stated)."""
    result = NO_REQUIREMENTS
    if header:
        result = _apply(result, _header_fields(header), REQUIREMENTS_HEADER)
    return _apply(result, _body_fields(body), _BODY_PATH)


def _apply(result: Requirements, fields: Mapping[str, Any], source: str) -> Requirements:
    for key, value in fields.items():
        parser = _PARSERS.get(key)
        if parser is None:
            known = ", ".join(sorted(_PARSERS))
            raise _invalid(f"{source}.{key}", f"unknown field; known fields: {known}")
        result = replace(result, **{key: parser(f"{source}.{key}", value)})
    return result


def _body_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    extension = body.get(EXTENSION_KEY)
    if extension is None:
        return {}
    if not isinstance(extension, Mapping):
        raise _invalid(EXTENSION_KEY, "must be an object")
    requirements = extension.get("requirements")
    if requirements is None:
        return {}
    if not isinstance(requirements, Mapping):
        raise _invalid(_BODY_PATH, "must be an object")
    return dict(requirements)


def _header_fields(header: str | bytes) -> dict[str, Any]:
    raw = header.encode() if isinstance(header, str) else header
    if len(raw) > _MAX_HEADER_BYTES:
        raise _invalid(REQUIREMENTS_HEADER, f"is longer than {_MAX_HEADER_BYTES} bytes")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _invalid(REQUIREMENTS_HEADER, "must be a JSON object") from None
    if not isinstance(value, dict):
        raise _invalid(REQUIREMENTS_HEADER, "must be a JSON object")
    return value


def _invalid(param: str, problem: str) -> GatewayError:
    return GatewayError(
        status=grpc.StatusCode.INVALID_ARGUMENT,
        code="invalid_requirements",
        message=f"Invalid routing requirement {param}: {problem}.",
        param=param,
    )


def _names(path: str, value: Any) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _invalid(path, "must be an array of non-empty strings")
    return frozenset(value)


def _capabilities(path: str, value: Any) -> Capabilities:
    names = _names(path, value)
    try:
        return parse_capabilities(sorted(names))
    except ValueError as error:
        raise _invalid(path, str(error)) from None


def _providers(path: str, value: Any) -> frozenset[str]:
    names = _names(path, value)
    if not names:
        raise _invalid(path, "must name at least one provider")
    return names


def _price(path: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _invalid(path, "must be a number (USD per million tokens)")
    if value < 0:
        raise _invalid(path, "must not be negative")
    return float(value)


def _positive(path: str, value: Any) -> float:
    number = _price(path, value)
    if number <= 0:
        raise _invalid(path, "must be greater than 0")
    return number


def _min_context(path: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _invalid(path, "must be a positive integer (tokens)")
    return value


def _prefer(path: str, value: Any) -> Prefer:
    try:
        return Prefer(value)
    except ValueError:
        raise _invalid(path, "must be 'cost' or 'latency'") from None


_PARSERS: Mapping[str, Callable[[str, Any], Any]] = {
    "capabilities": _capabilities,
    "max_input_price": _price,
    "max_output_price": _price,
    "prefer": _prefer,
    "providers": _providers,
    "exclude_providers": _names,
    "min_context": _min_context,
    "max_latency_ms": _positive,
}
