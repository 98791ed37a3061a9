"""OpenAI Chat Completions / legacy Completions request → Anthropic Messages request.

Pure: the unified request in, the `POST {base}/v1/messages` body out; no I/O, no
clock. Every refusal is an INVALID_ARGUMENT `GatewayError` naming the parameter
(`messages[3].tool_calls[0].function.arguments`), never a crash. The decisions
(documented in README.md next to this file):

- system and developer messages, wherever they appear, are hoisted in order into
  the top-level `system`, joined with a blank line;
- consecutive same-role turns are merged into one turn with several blocks; a
  `tool` message becomes a `tool_result` block of the user turn that follows the
  assistant's `tool_use` blocks (several results → one user turn, in order);
- the conversation must start with a user turn: an assistant first is refused
  (we do not invent user content);
- `temperature` above Anthropic's maximum of 1 is refused, not clamped;
- `response_format` json_schema → `output_config.format`; json_object → a system
  instruction (Anthropic has no schema-less JSON mode).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.provider.adapters.anthropic.messages import chat_messages, prompt_block
from services.provider.adapters.anthropic.params import check_parameters, invalid
from services.provider.adapters.base import Call, Operation

__all__ = [
    "API_VERSION",
    "JSON_OBJECT_INSTRUCTION",
    "MESSAGES_PATH",
    "request_headers",
    "translate_request",
]

Json = dict[str, Any]

API_VERSION = "2023-06-01"
MESSAGES_PATH = "/v1/messages"
JSON_OBJECT_INSTRUCTION = (
    "Respond with a single valid JSON object and nothing else: no prose, no code fences."
)


def request_headers(api_key: str) -> dict[str, str]:
    return {
        "x-api-key": api_key,
        "anthropic-version": API_VERSION,
        "content-type": "application/json",
    }


def translate_request(call: Call) -> Json:
    """The Messages API body for one unified call (streaming or not)."""
    body = call.body
    check_parameters(body, call.operation)
    if call.operation is Operation.CHAT:
        system, messages = chat_messages(body.get("messages"))
    else:
        system, messages = [], [{"role": "user", "content": [prompt_block(body.get("prompt"))]}]
    out: Json = {
        "model": call.upstream_model,
        "max_tokens": _max_tokens(body, call.default_max_tokens),
        "messages": messages,
    }
    output_format = _response_format(body.get("response_format"), system)
    if system:
        out["system"] = "\n\n".join(system)
    if output_format is not None:
        out["output_config"] = {"format": output_format}
    _sampling(body, out)
    _tools(body, out)
    for name in ("safety_identifier", "user"):  # OpenAI's successor first
        user = body.get(name)
        if user is None:
            continue
        if not isinstance(user, str):
            raise invalid("invalid_type", f"'{name}' must be a string.", name)
        out["metadata"] = {"user_id": user}
        break
    if call.stream:
        out["stream"] = True
    return out


# ---- scalar parameters ----


def _number(body: Mapping[str, Any], name: str, high: float, hint: str = "") -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid("invalid_type", f"'{name}' must be a number.", name)
    if not 0 <= value <= high:
        raise invalid(
            "unsupported_value",
            f"'{name}' is {value}; Anthropic models accept 0 to {high:g}.{hint}",
            name,
        )
    return value


def _max_tokens(body: Mapping[str, Any], default: int) -> int:
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise invalid("invalid_value", f"'{name}' must be a positive integer.", name)
        return value
    return default


def _sampling(body: Mapping[str, Any], out: Json) -> None:
    temperature = _number(body, "temperature", 1, " OpenAI's 0 to 2 is not clamped or rescaled.")
    if temperature is not None:
        out["temperature"] = temperature
    top_p = _number(body, "top_p", 1)
    if top_p is not None:
        out["top_p"] = top_p
    stop = body.get("stop")
    if isinstance(stop, str):
        stop = [stop]
    if stop is None or stop == []:
        return
    if not isinstance(stop, list) or not all(isinstance(s, str) and s for s in stop):
        raise invalid("invalid_type", "'stop' must be a string or a list of strings.", "stop")
    out["stop_sequences"] = stop


def _response_format(value: Any, system: list[str]) -> Json | None:
    if value is None:
        return None
    kind = value.get("type") if isinstance(value, dict) else None
    if kind == "text":
        return None
    if kind == "json_object":
        system.append(JSON_OBJECT_INSTRUCTION)
        return None
    if kind == "json_schema":
        spec = value.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if not isinstance(schema, dict):
            raise invalid(
                "invalid_value",
                "'response_format.json_schema.schema' must be a JSON Schema object.",
                "response_format.json_schema.schema",
            )
        return {"type": "json_schema", "schema": schema}
    raise invalid(
        "unsupported_value",
        "'response_format.type' must be 'text', 'json_object' or 'json_schema'.",
        "response_format.type",
    )


# ---- tools ----


def _tools(body: Mapping[str, Any], out: Json) -> None:
    tools = body.get("tools") or []
    if not isinstance(tools, list):
        raise invalid("invalid_type", "'tools' must be a list.", "tools")
    declared = [_tool(tool, f"tools[{i}]") for i, tool in enumerate(tools)]
    choice = _tool_choice(body.get("tool_choice"), {tool["name"] for tool in declared})
    if not declared:
        return
    out["tools"] = declared
    if body.get("parallel_tool_calls") is False and (choice or {}).get("type") != "none":
        choice = {**(choice or {"type": "auto"}), "disable_parallel_tool_use": True}
    if choice is not None:
        out["tool_choice"] = choice


def _tool(tool: Any, where: str) -> Json:
    function = tool.get("function") if isinstance(tool, dict) else None
    if (
        not isinstance(tool, dict)
        or tool.get("type") != "function"
        or not isinstance(function, dict)
    ):
        raise invalid("unsupported_value", f"'{where}' must be a function tool.", f"{where}.type")
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise invalid(
            "invalid_value", f"'{where}.function.name' is required.", f"{where}.function.name"
        )
    schema = function.get("parameters")
    if schema is None:
        schema = {"type": "object", "properties": {}}
    if not isinstance(schema, dict):
        raise invalid(
            "invalid_type",
            f"'{where}.function.parameters' must be a JSON Schema object.",
            f"{where}.function.parameters",
        )
    out: Json = {"name": name}
    if isinstance(function.get("description"), str):
        out["description"] = function["description"]
    out["input_schema"] = schema
    if function.get("strict") is True:
        out["strict"] = True
    return out


def _tool_choice(choice: Any, names: set[str]) -> Json | None:
    if choice is None:
        return None
    if choice in ("auto", "none"):
        return {"type": choice} if names else None
    if choice == "required":
        mapped: Json = {"type": "any"}
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        mapped = {"type": "tool", "name": choice["function"].get("name")}
    else:
        raise invalid(
            "unsupported_value",
            "'tool_choice' must be 'auto', 'none', 'required' or a named function.",
            "tool_choice",
        )
    if not names:
        raise invalid("invalid_value", "'tool_choice' needs 'tools' to choose from.", "tool_choice")
    if "name" in mapped and mapped["name"] not in names:
        raise invalid(
            "invalid_value", "'tool_choice' names a function that is not in 'tools'.", "tool_choice"
        )
    return mapped
