"""Every error code the code can raise, found by reading the source (AST).

A code is a string literal passed as the `code` of a `GatewayError(...)` or an
`UpstreamRule(...)`, or to any function of ours whose parameter is named `code`
(the small constructors in each service's errors.py). The gRPC status comes
with it when it is written at the call (`GatewayError(grpc.StatusCode.X, ...)`)
or inside the constructor that takes the code. `{kind}_not_found`-style
f-strings are resolved from the literals passed as that parameter. The edge's
Lua filter contributes the codes of its fallback tables."""

from __future__ import annotations

import ast
import pathlib
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass

__all__ = ["SHIPPED_PACKAGES", "FoundCode", "scan"]

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHIPPED_PACKAGES = ("services", "keyvault", "metrics", "gateway")
_CODE = re.compile(r"^[a-z][a-z0-9_]*[a-z0-9]$")
_CARRIERS = {"GatewayError": (1, "status"), "UpstreamRule": (0, "status")}
_LUA_TABLE = re.compile(r"CODE_BY_\w+\s*=\s*\{(.*?)\n\}", re.S)
_LUA_VALUE = re.compile(r'=\s*"([a-z_]+)"')


@dataclass(frozen=True, order=True)
class FoundCode:
    code: str
    where: str  # path:line of the first occurrence
    status: str = ""  # gRPC status name when the source shows it
    http_status: int = 0  # when the source sets one (else the status's default)
    retryable: bool | None = None  # when the source says


@dataclass(frozen=True)
class _Helper:
    index: int  # position of the `code` parameter
    status: str
    params: tuple[str, ...]
    template: str  # f-string code (`{kind}_not_found`) built from a parameter, or ""


def _files(root: pathlib.Path) -> Iterator[pathlib.Path]:
    for package in SHIPPED_PACKAGES:
        yield from sorted((root / package).rglob("*.py"))


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _status_of(node: ast.expr | None) -> str:
    """`grpc.StatusCode.NOT_FOUND` / `_S.NOT_FOUND` → `NOT_FOUND`."""
    if isinstance(node, ast.Attribute) and node.attr.isupper():
        return node.attr
    return ""


def _argument(call: ast.Call, index: int, keyword: str) -> ast.expr | None:
    for item in call.keywords:
        if item.arg == keyword:
            return item.value
    return call.args[index] if len(call.args) > index else None


def _helpers(trees: Collection[ast.Module]) -> dict[str, _Helper]:
    """Functions taking a `code` (or building one from a parameter), with the status
    they give it."""
    found: dict[str, _Helper] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef):
                continue
            params = tuple(a.arg for a in (*node.args.posonlyargs, *node.args.args))
            for call in (c for c in ast.walk(node) if isinstance(c, ast.Call)):
                carrier = _CARRIERS.get(_name(call.func))
                if carrier is None or _name(call.func) != "GatewayError":
                    continue
                code = _argument(call, 1, "code")
                status = _status_of(_argument(call, 0, "status"))
                if isinstance(code, ast.Name) and code.id in params:
                    found[node.name] = _Helper(params.index(code.id), status, params, "")
                elif isinstance(code, ast.JoinedStr):
                    found[node.name] = _Helper(-1, status, params, ast.unparse(code))
    return _passing_on(trees, found)


def _passing_on(trees: Collection[ast.Module], found: dict[str, _Helper]) -> dict[str, _Helper]:
    """Functions that hand their `code` parameter on to a helper are helpers too
    (`_bounded(code, ...)` calling `bad_request(code, ...)`), to a fixed point."""
    functions = [n for t in trees for n in ast.walk(t) if isinstance(n, ast.FunctionDef)]
    grew = True
    while grew:
        grew = False
        for node in functions:
            if node.name in found:
                continue
            params = tuple(a.arg for a in (*node.args.posonlyargs, *node.args.args))
            for call in (c for c in ast.walk(node) if isinstance(c, ast.Call)):
                inner = found.get(_name(call.func))
                if inner is None or inner.index < 0:
                    continue
                code = _argument(call, inner.index, "code")
                if isinstance(code, ast.Name) and code.id in params:
                    found[node.name] = _Helper(params.index(code.id), inner.status, params, "")
                    grew = True
                    break
    return found


def _expand(template: str, helper: _Helper, call: ast.Call) -> str | None:
    """`f'{kind}_not_found'` with `kind='client_key'` at the call → `client_key_not_found`."""
    text = template[2:-1]  # strip f' '
    for match in re.finditer(r"\{(\w+)\}", text):
        name = match.group(1)
        if name not in helper.params:
            return None
        value = _argument(call, helper.params.index(name), name)
        if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
            return None
        text = text.replace(match.group(0), value.value)
    return text


def _extras(call: ast.Call) -> tuple[int, bool | None]:
    """The http_status and retryable a carrier call spells out (UpstreamRule: positions 2, 3)."""
    upstream = _name(call.func) == "UpstreamRule"
    http = _argument(call, 2 if upstream else 99, "http_status")
    retry = _argument(call, 3 if upstream else 99, "retryable")
    return (
        http.value if isinstance(http, ast.Constant) and isinstance(http.value, int) else 0,
        retry.value if isinstance(retry, ast.Constant) and isinstance(retry.value, bool) else None,
    )


def _assigned(tree: ast.Module, call: ast.Call, name: str) -> Iterator[tuple[str, int]]:
    """String literals assigned to `name` (also in tuples: `code, value = "x", 1`) in the
    function holding `call`."""
    for function in (f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)):
        if not any(node is call for node in ast.walk(function)):
            continue
        for node in (n for n in ast.walk(function) if isinstance(n, ast.Assign)):
            for target in node.targets:
                pairs: list[tuple[ast.expr, ast.expr]] = [(target, node.value)]
                if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                    pairs = list(zip(target.elts, node.value.elts, strict=False))
                for left, right in pairs:
                    if (
                        isinstance(left, ast.Name)
                        and left.id == name
                        and isinstance(right, ast.Constant)
                        and isinstance(right.value, str)
                    ):
                        yield right.value, node.lineno


# (code, line, status, the carrier call when the code is written at it)
_Hit = tuple[str, int, str, ast.Call | None]


def _hits(tree: ast.Module, helpers: dict[str, _Helper]) -> Iterator[_Hit]:
    """The codes one module passes to carriers and to code-taking constructors."""
    for call in (c for c in ast.walk(tree) if isinstance(c, ast.Call)):
        name = _name(call.func)
        if name in _CARRIERS:
            index, status_kw = _CARRIERS[name]
            code = _argument(call, index, "code")
            status = _status_of(_argument(call, 1 if name == "UpstreamRule" else 0, status_kw))
            if isinstance(code, ast.Constant) and isinstance(code.value, str):
                yield code.value, call.lineno, status, call
            elif isinstance(code, ast.Name):
                for value, line in _assigned(tree, call, code.id):
                    yield value, line, status, call
            continue
        helper = helpers.get(name)
        if helper is None:
            continue
        if helper.template:
            text = _expand(helper.template, helper, call)
            if text:
                yield text, call.lineno, helper.status, None
            continue
        code = _argument(call, helper.index, "code")
        if isinstance(code, ast.Constant) and isinstance(code.value, str):
            yield code.value, call.lineno, helper.status, None


def _lua_hits(lua: pathlib.Path) -> Iterator[_Hit]:
    """The codes of the edge filter's fallback tables (CODE_BY_STATUS, CODE_BY_GRPC)."""
    text = lua.read_text()
    for table in _LUA_TABLE.findall(text):
        for code in _LUA_VALUE.findall(table):
            yield code, text[: text.find(code)].count("\n") + 1, "", None


def scan(root: pathlib.Path = ROOT) -> list[FoundCode]:
    """Every distinct code, with its first occurrence and (when known) its status."""
    parsed = {path: ast.parse(path.read_text(), str(path)) for path in _files(root)}
    helpers = _helpers(parsed.values())
    sources: list[tuple[pathlib.Path, Iterator[_Hit]]] = [
        (path, _hits(tree, helpers)) for path, tree in parsed.items()
    ]
    lua = root / "gateway" / "edge_filter.lua"
    if lua.is_file():
        sources.append((lua, _lua_hits(lua)))
    found: dict[str, FoundCode] = {}
    for path, hits in sources:
        for code, line, status, call in hits:
            if not _CODE.match(code):
                continue
            known = found.get(code)
            if known is None or (status and not known.status):
                where = known.where if known else f"{path.relative_to(root)}:{line}"
                http, retryable = _extras(call) if call is not None else (0, None)
                found[code] = FoundCode(code, where, status, http, retryable)
    return sorted(found.values())
