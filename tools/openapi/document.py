"""The OpenAPI 3.1 document of the edge's REST surface, built from the descriptor set."""

from __future__ import annotations

import pathlib
from typing import Any

import yaml

from tools.docgen.catalogue import Entry, entries
from tools.openapi.descriptors import Catalog
from tools.openapi.errors import ERROR_SCHEMAS, error_responses, responses_for
from tools.openapi.examples import EXAMPLES_DIR, Example, load_examples
from tools.openapi.operations import Route, parameters, routes_of, typed_operation
from tools.openapi.schemas import SchemaBook

__all__ = ["PASSTHROUGH_DIR", "build_document"]

PASSTHROUGH_DIR = pathlib.Path(__file__).with_name("passthrough")
_NATIVE_STATUSES = {400, 401, 403, 404, 409, 500, 503}
_INTRO = """\
Agentopia's REST API, generated from its protobuf contracts (`protos/agentopia/v1/`) and,
for the client-format routes (OpenAI- and Anthropic-compatible), from the providers'
published API references. Every route takes `Authorization: Bearer <key>`; the role each
route needs is in its description (`x-agentopia-role`). The same RPCs are served as native
gRPC on the same port (`x-grpc-method`). Error codes: docs/errors.md.
"""


def _load_descriptions(folder: pathlib.Path) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Descriptions by route key, and the schemas they share."""
    by_route: dict[str, dict[str, Any]] = {}
    shared: dict[str, Any] = {}
    for path in sorted(folder.glob("*.yaml")):
        data = yaml.safe_load(path.read_text()) or {}
        for name, schema in data.get("components", {}).get("schemas", {}).items():
            if name in shared and shared[name] != schema:
                raise SystemExit(f"openapi: schema {name} is described twice, differently ({path})")
            shared[name] = schema
        if "route" in data:
            by_route[data["route"]] = {**data["operation"], "x-source": path.name}
    return by_route, shared


def _operation(
    route: Route,
    catalog: Catalog,
    book: SchemaBook,
    described: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    if route.method.passthrough:
        description = described.get(route.key)
        if description is None:
            raise SystemExit(
                f"openapi: {route.method.grpc_path} ({route.key}) passes raw HTTP bodies, so its "
                f"schema cannot come from the proto: describe it in tools/openapi/passthrough/ "
                f"(a YAML file with `route: {route.key}`)"
            )
        operation = {k: v for k, v in description.items() if k != "x-source"}
        if route.method.input != "google.api.HttpBody" or route.path_fields:
            operation.setdefault("parameters", parameters(route, catalog, book))
    else:
        operation = {
            "summary": route.method.comment.split(". ")[0].rstrip("."),
            "tags": [route.method.service.rsplit(".", 1)[-1]],
            **typed_operation(route, catalog, book),
        }
    text = route.method.comment
    needs = f"**Needs:** {route.role.sentence}"
    operation["description"] = "\n\n".join(
        part for part in (operation.get("description") or text, needs) if part
    )
    operation["operationId"] = route.method.name
    operation["security"] = [{"bearer": []}]
    operation["x-agentopia-role"] = route.role.value
    operation["x-grpc-method"] = route.method.grpc_path
    return operation


def _surface(route: Route) -> str:
    """Which error body shape a route answers with (the edge filter decides by path)."""
    if route.path.startswith("/agentopia/"):
        return "native"
    return "anthropic" if route.path.startswith("/v1/messages") else "openai"


def _with_errors(operation: dict[str, Any], route: Route, catalogue: list[Entry]) -> None:
    surface = _surface(route)
    errors = responses_for(surface, catalogue)
    if surface == "native":
        errors = {k: v for k, v in errors.items() if int(k) in _NATIVE_STATUSES}
    operation["responses"] = {**operation["responses"], **errors}


def _with_example(operation: dict[str, Any], example: Example) -> None:
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body is not None and example.request is not None:
        body.setdefault("examples", {})[example.name] = {"value": example.request}
    ok = operation["responses"].get("200", {}).get("content", {})
    if example.response is not None:
        for media in ("application/json",):
            if media in ok:
                ok[media].setdefault("examples", {})[example.name] = {"value": example.response}
    operation.setdefault("x-examples", []).append(f"docs/examples/{example.name}/")


def _resolve_refs(node: Any, book: SchemaBook, known: set[str], catalog: Catalog) -> None:
    """Description files may reference proto messages by name (`StreamLiveStatsResponse`)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            name = ref.rsplit("/", 1)[-1]
            full = f"agentopia.v1.{name}"
            if name not in known and full in catalog.messages:
                book.ref(full)
        for value in node.values():
            _resolve_refs(value, book, known, catalog)
    elif isinstance(node, list):
        for value in node:
            _resolve_refs(value, book, known, catalog)


def build_document(
    descriptor: pathlib.Path,
    *,
    passthrough: pathlib.Path = PASSTHROUGH_DIR,
    examples: pathlib.Path = EXAMPLES_DIR,
) -> dict[str, Any]:
    catalog = Catalog.load(descriptor)
    book = SchemaBook(catalog)
    described, shared = _load_descriptions(passthrough)
    catalogue = entries()
    by_route: dict[str, list[Example]] = {}
    for example in load_examples(examples):
        by_route.setdefault(example.route, []).append(example)
    paths: dict[str, dict[str, Any]] = {}
    for route in routes_of(catalog):
        operation = _operation(route, catalog, book, described)
        _with_errors(operation, route, catalogue)
        for example in by_route.get(route.key, []):
            _with_example(operation, example)
        paths.setdefault(route.path, {})[route.verb] = operation
    _resolve_refs({"paths": paths, "shared": shared}, book, set(shared), catalog)
    schemas = {**book.components, **shared, **ERROR_SCHEMAS}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Agentopia", "version": "v1", "description": _INTRO},
        # Same origin: the document is served by the gateway it describes.
        "servers": [{"url": "/", "description": "this gateway"}],
        "security": [{"bearer": []}],
        "tags": _tags(paths),
        "paths": dict(sorted(paths.items())),
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A gateway key (`make run` prints an admin key).",
                }
            },
            "schemas": dict(sorted(schemas.items())),
            "responses": error_responses(catalogue),
        },
    }


def _tags(paths: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    names = sorted({t for ops in paths.values() for op in ops.values() for t in op.get("tags", [])})
    return [{"name": name} for name in names]
