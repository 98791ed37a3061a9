"""Every `AGENTOPIA_*` variable the shipped code reads, found by reading the source (AST).

The one sanctioned way to read a setting is a `services.kernel.config` reader
(`env_str`, `env_int`, `env_float`, `env_bool`, `env_list`) with the variable's
name as a literal or a module constant, normally inside a service's config class.
Each read gives the variable, its type and default, and its meaning: the comment
on or above the call, or on the config-class field it fills. Any other read of an
`AGENTOPIA_*` name (`os.environ.get`, `os.getenv`, `os.environ[...]`) is a
*direct read*, allowed only when variables.toml lists it."""

from __future__ import annotations

import ast
import pathlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

from tools.docgen.error_codes import ROOT, SHIPPED_PACKAGES

__all__ = [
    "DirectRead",
    "Variable",
    "component_of",
    "computed_reads",
    "direct_reads",
    "reader_variables",
]

_READERS = {"env_str": "string", "env_int": "integer", "env_float": "number",
            "env_bool": "boolean", "env_list": "list"}  # fmt: skip
_PREFIX = "AGENTOPIA_"
_COMMENT = re.compile(r"#\s?(.*)$")


@dataclass(frozen=True)
class Variable:
    name: str
    kind: str
    default: str
    meaning: str
    where: tuple[str, ...]  # path:line of every read

    @property
    def components(self) -> str:
        return ", ".join(sorted({component_of(w) for w in self.where}))


@dataclass(frozen=True)
class DirectRead:
    name: str
    where: str


def component_of(where: str) -> str:
    """Which service reads a variable, from the reading module's path."""
    path = where.split(":", 1)[0]
    parts = path.split("/")
    if parts[0] == "services":
        return {"kernel": "every service", "colocated": "colocated"}.get(parts[1], parts[1])
    if parts[0] == "gateway":
        return "edge"
    if len(parts) > 1 and parts[1] == "client":
        return f"{parts[0]} client library (in its callers)"
    return parts[0]


def _files(root: pathlib.Path) -> Iterator[pathlib.Path]:
    for package in SHIPPED_PACKAGES:
        yield from sorted((root / package).rglob("*.py"))


def _constants(tree: ast.Module) -> dict[str, str]:
    """Module-level `NAME = "AGENTOPIA_..."` (also annotated `Final`)."""
    found: dict[str, str] = {}
    for node in tree.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            for target in targets:
                if isinstance(target, ast.Name):
                    found[target.id] = value.value
    return found


def _literal(node: ast.expr | None, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    return None


def _callee(call: ast.Call) -> str:
    func = call.func
    return (
        func.id
        if isinstance(func, ast.Name)
        else func.attr
        if isinstance(func, ast.Attribute)
        else ""
    )


def _comment_near(lines: list[str], line: int) -> str:
    """The comment at the end of `line` (1-based), else the comment lines just above."""
    same = _COMMENT.search(lines[line - 1])
    if same and "noqa" not in same.group(1) and "fmt:" not in same.group(1):
        return same.group(1).strip()
    above: list[str] = []
    index = line - 2
    while index >= 0 and lines[index].strip().startswith("#"):
        above.insert(0, lines[index].strip().lstrip("#").strip())
        index -= 1
    return " ".join(above)


def _fields(tree: ast.Module, lines: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """`field → comment` and `field → default` of every annotated class attribute."""
    comments: dict[str, str] = {}
    defaults: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    text = _comment_near(lines, item.lineno)
                    if text:
                        comments.setdefault(item.target.id, text)
                    if item.value is not None:
                        defaults.setdefault(item.target.id, ast.unparse(item.value))
    return comments, defaults


def _default(node: ast.expr | None, defaults: dict[str, str]) -> str:
    """The default as written; `defaults.x` / `cls.x` / `base.x` resolved to the field's."""
    if node is None:
        return ""
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in ("defaults", "cls", "self", "base")
        and node.attr in defaults
    ):
        return defaults[node.attr]
    if isinstance(node, ast.Call) and _callee(node) == "str" and node.args:
        return _default(node.args[0], defaults)
    return ast.unparse(node)


def reader_variables(root: pathlib.Path = ROOT) -> list[Variable]:
    """Every variable read through the kernel's readers, first read wins per name."""
    found: dict[str, Variable] = {}
    for path in _files(root):
        source = path.read_text()
        tree = ast.parse(source, str(path))
        lines = source.splitlines()
        constants = _constants(tree)
        fields, field_defaults = _fields(tree, lines)
        keywords = {
            id(kw.value): kw.arg
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            for kw in node.keywords
            if kw.arg
        }
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            kind = _READERS.get(_callee(call))
            if kind is None or not call.args:
                continue
            name = _literal(call.args[0], constants)
            if name is None or not name.startswith(_PREFIX):
                continue
            default_node = call.args[1] if len(call.args) > 1 and kind != "list" else None
            default = _default(default_node, field_defaults)
            meaning = _comment_near(lines, call.lineno)
            field = keywords.get(id(call))
            if not meaning and field:
                meaning = fields.get(field, "")
            where = f"{path.relative_to(root)}:{call.lineno}"
            known = found.get(name)
            if known is None:
                found[name] = Variable(name, kind, default, meaning, (where,))
            else:
                found[name] = Variable(
                    name,
                    known.kind,
                    known.default or default,
                    known.meaning or meaning,
                    (*known.where, where),
                )
    return sorted(found.values(), key=lambda v: v.name)


def _environ_name(call: ast.Call, constants: dict[str, str]) -> str | None:
    """The variable of `<mapping>.get(X)` or `os.getenv(X)` (any mapping: a config
    class's `env`/`source` is the environment too)."""
    func = call.func
    if not isinstance(func, ast.Attribute) or not call.args:
        return None
    if func.attr in ("get", "getenv", "pop"):
        return _literal(call.args[0], constants)
    return None


def computed_reads(root: pathlib.Path = ROOT) -> list[DirectRead]:
    """Reader calls whose variable name is built at run time (`f"AGENTOPIA_TLS_{part}_FILE"`),
    as the f-string's text."""
    found: list[DirectRead] = []
    for path in _files(root):
        tree = ast.parse(path.read_text(), str(path))
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            if _callee(call) in _READERS and call.args and isinstance(call.args[0], ast.JoinedStr):
                text = ast.unparse(call.args[0])[2:-1]
                if text.startswith(_PREFIX):
                    found.append(DirectRead(text, f"{path.relative_to(root)}:{call.lineno}"))
    return found


def direct_reads(root: pathlib.Path = ROOT) -> list[DirectRead]:
    """Reads of `AGENTOPIA_*` names that bypass the kernel's readers."""
    found: list[DirectRead] = []
    for path in _files(root):
        tree = ast.parse(path.read_text(), str(path))
        constants = _constants(tree)
        for node in ast.walk(tree):
            name: str | None = None
            if isinstance(node, ast.Call):
                name = _environ_name(node, constants)
            elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
                name = _literal(node.slice, constants)
            else:
                continue
            if name and name.startswith(_PREFIX):
                found.append(DirectRead(name, f"{path.relative_to(root)}:{node.lineno}"))
    return found
