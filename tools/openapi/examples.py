"""The runnable examples in docs/examples/ as the OpenAPI document's examples.

Each example folder holds `curl.sh` (its first lines name the route it calls:
`# route: post /v1/chat/completions`; its JSON body is the `--data '...'`
argument) and `response.json`, the answer recorded from a run against the live
mesh with volatile values (ids, times, secrets) replaced by placeholders.
tests/docs/test_examples.py runs every example and fails when the live answer
no longer has the recorded shape, so these examples cannot drift."""

from __future__ import annotations

import itertools
import json
import pathlib
import re
import shlex
from dataclasses import dataclass
from typing import Any

__all__ = ["EXAMPLES_DIR", "Example", "load_examples", "normalise", "same_shape"]

EXAMPLES_DIR = pathlib.Path(__file__).resolve().parents[2] / "docs" / "examples"
_ROUTE = re.compile(r"^#\s*route:\s*(\w+)\s+(\S+)\s*$", re.M)
_DATA_FLAGS = ("-d", "--data", "--data-raw")
# Values that differ on every run: recorded as placeholders of the same JSON type.
_VOLATILE = re.compile(
    r"^(id|.*_id|.*_time|.*_start|time|created|secret|prefix|last4|replica|updated_by|"
    r"system_fingerprint|bucket_start|cooldown_until|next_page_token)$"
)


@dataclass(frozen=True)
class Example:
    name: str
    folder: pathlib.Path
    route: str  # `post /v1/chat/completions`
    request: Any | None
    response: Any | None

    @property
    def curl(self) -> pathlib.Path:
        return self.folder / "curl.sh"


def _body(script: str) -> Any | None:
    """The JSON of the first `--data '...'` (None when the body is computed, `@-`)."""
    words = shlex.split(script.replace("\\\n", " "), comments=True)
    for flag, value in itertools.pairwise(words):
        if flag in _DATA_FLAGS:
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                return None
    return None


def normalise(value: Any, key: str = "") -> Any:
    """`value` with its volatile parts (ids, times, secrets) replaced by placeholders."""
    if isinstance(value, dict):
        return {k: normalise(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v, key) for v in value]
    if _VOLATILE.match(key) and value not in (None, "", 0):
        if isinstance(value, str):
            return f"<{key}>"
        if isinstance(value, int) and not isinstance(value, bool):
            return 0
    return value


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def same_shape(recorded: Any, live: Any, path: str = "$") -> list[str]:
    """Where `live` no longer has the shape of `recorded`: object keys, JSON types, and
    the first element of lists both hold (null and empty lists match anything)."""
    if recorded is None or live is None:
        return []
    if isinstance(recorded, dict) and isinstance(live, dict):
        problems = (
            [f"{path}: keys {sorted(set(recorded) ^ set(live))} differ"]
            if set(recorded) != set(live)
            else []
        )
        for key in set(recorded) & set(live):
            problems += same_shape(recorded[key], live[key], f"{path}.{key}")
        return problems
    if isinstance(recorded, list) and isinstance(live, list):
        return same_shape(recorded[0], live[0], f"{path}[0]") if recorded and live else []
    if _kind(recorded) != _kind(live):
        return [f"{path}: {_kind(recorded)} became {_kind(live)}"]
    return []


def load_examples(folder: pathlib.Path = EXAMPLES_DIR) -> list[Example]:
    found = []
    for curl in sorted(folder.glob("*/curl.sh")):
        script = curl.read_text()
        match = _ROUTE.search(script)
        if match is None:
            raise SystemExit(f"openapi: {curl} has no `# route: <verb> <path>` line")
        recorded = curl.with_name("response.json")
        response = json.loads(recorded.read_text()) if recorded.is_file() else None
        route = f"{match.group(1).lower()} {match.group(2)}"
        found.append(Example(curl.parent.name, curl.parent, route, _body(script), response))
    return found
