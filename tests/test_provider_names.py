"""No provider is named in product code outside its own adapter folder and the registry.

The rule, precisely. The names are those of every registered provider (development ones
included), read from services/provider/registry.py. Every Python file under services/,
keyvault/, metrics/ and gateway/ is checked, except services/provider/registry.py and
services/provider/adapters/<name>/ for each registered <name>. In those files a name
counts where code names something — an identifier, or a word inside a string literal —
matched case-insensitively as a whole word: an identifier is split at underscores and
at lower-to-upper case changes (`groq_key`, `GroqKey` and `"groq"` all match; `grok` or
`mockingbird` do not). Comments and docstrings are prose, not code, and are not checked.

"openai" is also the name of a protocol: the OpenAI wire format that the gateway
speaks to clients and that many vendors speak upstream. Identifiers that name the
protocol are allowed, and only these: the shared `openai_compat` adapter and everything
named after it (`OpenAICompat...`, `openai_compat_service_pb2`), the router's surface for
it (`openai_servicer`, `_OPENAI_SURFACE`), errors in its format (`openai_error_body`,
`abort_openai`, `_OPENAI_TYPE_BY_HTTP`), the variable holding that surface's servicer in a
composition root (`openai`, in `server.py` only), and the `bpe_openai` tokenizer package — as
identifiers or spelled inside strings; and in strings the phrase "OpenAI-compatible".
"""

from __future__ import annotations

import ast
import io
import itertools
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

from services.provider.registry import registered

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("services", "keyvault", "metrics", "gateway")
NAMES = frozenset(spec.name.lower() for spec in registered(demo=True))
EXEMPT = frozenset(
    {ROOT / "services" / "provider" / "registry.py"}
    | {ROOT / "services" / "provider" / "adapters" / name for name in NAMES}
)
PROTOCOL_IDENTIFIERS = re.compile(
    r"(?i)openai_?compat|openai_servicer|openai_surface|openai_error_body|abort_openai"
    r"|_OPENAI_TYPE_BY_HTTP"
    r"|bpe_openai"
)
PROTOCOL_PHRASES = re.compile(r"(?i)openai-compatible")
SERVICER_VARIABLE = "openai"  # allowed in server.py only
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z]|\d|$)|[A-Z]?[a-z]+|[A-Z]+|\d+")


def _files() -> Iterator[Path]:
    for top in PRODUCT:
        for path in sorted((ROOT / top).rglob("*.py")):
            if not any(path == exempt or exempt in path.parents for exempt in EXEMPT):
                yield path


def _docstrings(tree: ast.Module) -> set[tuple[int, int]]:
    starts = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                starts.add((first.lineno, first.col_offset))
    return starts


def identifier_words(identifier: str) -> list[str]:
    """`GroqKey` → groq, key; `OPENAI_TYPE` → openai, type; `OpenAICompat` → open..."""
    words = []
    for part in identifier.split("_"):
        words.append(part.lower())  # the whole part: `openai`, `OPENAI`
        words.extend(word.lower() for word in _CAMEL.findall(part))
    # CamelCase splits acronyms apart (`OpenAI` → open, ai): rejoin neighbours.
    joined = [a + b for a, b in itertools.pairwise(words)]
    return words + joined


def _named(token: tokenize.TokenInfo, path: Path) -> set[str]:
    if token.type == tokenize.NAME:
        if PROTOCOL_IDENTIFIERS.search(token.string):
            return set()
        if token.string == SERVICER_VARIABLE and path.name == "server.py":
            return set()
        return NAMES & set(identifier_words(token.string))
    text = PROTOCOL_IDENTIFIERS.sub(" ", PROTOCOL_PHRASES.sub(" ", token.string))
    return NAMES & {word.lower() for word in re.findall(r"[A-Za-z]+", text)}


def occurrences() -> Iterator[str]:
    for path in _files():
        source = path.read_text()
        docstrings = _docstrings(ast.parse(source))
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type not in (tokenize.NAME, tokenize.STRING):
                continue
            if token.type == tokenize.STRING and token.start in docstrings:
                continue
            for name in sorted(_named(token, path)):
                line = token.start[0]
                yield f"{path.relative_to(ROOT)}:{line}: {name!r} in {token.string[:60]!r}"


def test_no_provider_is_named_outside_its_adapter_folder_and_the_registry() -> None:
    found = list(occurrences())
    assert not found, "provider names in shared code:\n" + "\n".join(found)


def test_the_rule_sees_what_it_should() -> None:
    assert {"groq"} <= set(identifier_words("GroqKey"))
    assert {"openai"} <= set(identifier_words("OpenAIKey"))
    assert {"anthropic"} <= set(identifier_words("ANTHROPIC_HEADERS"))
    assert "mock" not in identifier_words("mockingbird")
    assert NAMES, "the registry lists no provider"
