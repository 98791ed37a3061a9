"""REST operations from `google.api.http` mappings: path and query parameters,
the request body, the typed response, the role, and the error responses."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from google.api import http_pb2
from google.protobuf import descriptor_pb2

from tools.openapi.descriptors import Catalog, Method, http_rule
from tools.openapi.roles import Role, role_of
from tools.openapi.schemas import SchemaBook

__all__ = ["Route", "routes_of", "typed_operation"]

_F = descriptor_pb2.FieldDescriptorProto
_VARIABLE = re.compile(r"\{([a-zA-Z0-9_.]+)(=[^}]*)?\}")
_VERBS = ("get", "put", "post", "delete", "patch")


@dataclass(frozen=True)
class Route:
    """One REST mapping of one RPC."""

    method: Method
    verb: str
    template: str  # as in the proto: `/v1/models/{model=**}`
    body: str
    role: Role

    @property
    def path(self) -> str:
        """The OpenAPI path: `{model=**}` becomes `{model}`, `{key.key_id}` `{key_id}` (paths
        differing only in a variable's name must not coexist in OpenAPI)."""
        return _VARIABLE.sub(lambda m: "{" + _leaf(m.group(1)) + "}", self.template)

    @property
    def path_fields(self) -> list[str]:
        return [m.group(1) for m in _VARIABLE.finditer(self.template)]

    @property
    def key(self) -> str:
        """How description files name a route: `post /v1/chat/completions`."""
        return f"{self.verb} {self.path}"


def routes_of(catalog: Catalog) -> list[Route]:
    """Every REST mapping (and additional binding) of the public package's RPCs."""
    found: list[Route] = []
    for method in catalog.public_methods():
        rule = http_rule(method)
        if rule is None:
            continue
        for binding in (rule, *rule.additional_bindings):
            verb, template = _pattern(binding)
            role = role_of(method.service, method.name)
            if role is None:
                raise SystemExit(
                    f"openapi: {method.grpc_path} is routed at {verb.upper()} {template} but "
                    "no role is declared for it (keyvault ACCESS or tools/openapi/roles.py)"
                )
            found.append(Route(method, verb, template, binding.body, role))
    return found


def _pattern(rule: http_pb2.HttpRule) -> tuple[str, str]:
    for verb in _VERBS:
        value = getattr(rule, verb)
        if value:
            return verb, str(value)
    return rule.custom.kind.lower(), rule.custom.path


def typed_operation(route: Route, catalog: Catalog, book: SchemaBook) -> dict[str, Any]:
    """Parameters, body and the 200 response of a transcoded (typed) RPC."""
    operation: dict[str, Any] = {"parameters": parameters(route, catalog, book)}
    request = route.method.input
    if route.body == "*":
        operation["requestBody"] = _json_body(
            book.message(request, without=frozenset(_roots(route.path_fields)))
        )
    elif route.body:
        item = _field(catalog, request, route.body)
        operation["requestBody"] = _json_body(book.field(item))
    operation["responses"] = {
        "200": {
            "description": "OK",
            "content": {"application/json": {"schema": book.ref(route.method.output)}},
        }
    }
    return operation


def parameters(route: Route, catalog: Catalog, book: SchemaBook) -> list[dict[str, Any]]:
    """Path parameters, then (without a body) the request's fields as query parameters."""
    request = route.method.input
    found = []
    for name in route.path_fields:
        item = _nested_field(catalog, request, name)
        found.append(
            {
                "name": _leaf(name),
                "in": "path",
                "required": True,
                "schema": book.field(item),
                "description": _path_note(route, name, catalog, request),
            }
        )
    if route.body != "*":
        skip = set(_roots(route.path_fields)) | ({route.body} if route.body else set())
        found += _query(catalog, book, request, prefix="", skip=skip, depth=0)
    return found


def _leaf(dotted: str) -> str:
    return dotted.rsplit(".", 1)[-1]


def _path_note(route: Route, name: str, catalog: Catalog, request: str) -> str:
    text = catalog.comment(f"{request}.{name}") or _leaf(name).replace("_", " ")
    if "." in name:
        text += f" (sets `{name}`)"
    if "=**}" in route.template:
        text += " May contain `/` (`mock/echo`)."
    return text


def _query(
    catalog: Catalog, book: SchemaBook, message: str, *, prefix: str, skip: set[str], depth: int
) -> list[dict[str, Any]]:
    found = []
    for item in catalog.messages[message].field:
        if item.name in skip:
            continue
        type_name = item.type_name.lstrip(".")
        nested = (
            item.type == _F.TYPE_MESSAGE
            and type_name in catalog.messages
            and not type_name.startswith("google.protobuf.")
        )
        if nested:
            if depth < 2 and item.label != _F.LABEL_REPEATED:
                found += _query(
                    catalog,
                    book,
                    type_name,
                    prefix=f"{prefix}{item.name}.",
                    skip=set(),
                    depth=depth + 1,
                )
            continue
        schema = book.field(item)
        parameter: dict[str, Any] = {"name": prefix + item.name, "in": "query", "schema": schema}
        if item.label == _F.LABEL_REPEATED:
            parameter |= {"style": "form", "explode": True}
        text = catalog.comment(f"{message}.{item.name}")
        if text:
            parameter["description"] = text
        found.append(parameter)
    return found


def _roots(fields: list[str]) -> list[str]:
    return [name.split(".", 1)[0] for name in fields]


def _field(catalog: Catalog, message: str, name: str) -> descriptor_pb2.FieldDescriptorProto:
    for item in catalog.messages[message].field:
        if item.name == name:
            return item
    raise SystemExit(f"openapi: {message} has no field {name!r}")


def _nested_field(
    catalog: Catalog, message: str, dotted: str
) -> descriptor_pb2.FieldDescriptorProto:
    head, _, rest = dotted.partition(".")
    item = _field(catalog, message, head)
    return _nested_field(catalog, item.type_name.lstrip("."), rest) if rest else item


def _json_body(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": dict(schema)}}}
