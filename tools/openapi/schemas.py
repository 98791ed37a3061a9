"""Proto messages and enums as OpenAPI 3.1 schemas, in the JSON the edge's
transcoder prints: proto field names (`preserve_proto_field_names`), every
primitive present (`always_print_primitive_fields`), enums by name, 64-bit
integers as strings, well-known types in their canonical JSON."""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2

from tools.openapi.descriptors import Catalog, field_behaviors

__all__ = ["SchemaBook", "component_name"]

_F = descriptor_pb2.FieldDescriptorProto
_SCALARS: dict[int, dict[str, Any]] = {
    _F.TYPE_DOUBLE: {"type": "number", "format": "double"},
    _F.TYPE_FLOAT: {"type": "number", "format": "float"},
    _F.TYPE_INT32: {"type": "integer", "format": "int32"},
    _F.TYPE_SINT32: {"type": "integer", "format": "int32"},
    _F.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    _F.TYPE_UINT32: {"type": "integer", "format": "int64", "minimum": 0},
    _F.TYPE_FIXED32: {"type": "integer", "format": "int64", "minimum": 0},
    # proto3 JSON prints 64-bit integers as strings.
    _F.TYPE_INT64: {"type": "string", "format": "int64"},
    _F.TYPE_SINT64: {"type": "string", "format": "int64"},
    _F.TYPE_SFIXED64: {"type": "string", "format": "int64"},
    _F.TYPE_UINT64: {"type": "string", "format": "uint64"},
    _F.TYPE_FIXED64: {"type": "string", "format": "uint64"},
    _F.TYPE_BOOL: {"type": "boolean"},
    _F.TYPE_STRING: {"type": "string"},
    _F.TYPE_BYTES: {"type": "string", "contentEncoding": "base64"},
}
_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {
        "type": "string",
        "format": "date-time",
        "description": "RFC 3339, UTC (`2026-01-01T00:00:00Z`).",
    },
    "google.protobuf.Duration": {
        "type": "string",
        "pattern": r"^-?[0-9]+(\.[0-9]+)?s$",
        "description": "Seconds with an `s` suffix (`1.5s`).",
    },
    "google.protobuf.FieldMask": {
        "type": "string",
        "description": "Comma-separated field paths (`name,allowed_models`).",
    },
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {"description": "Any JSON value."},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.Any": {
        "type": "object",
        "properties": {"@type": {"type": "string"}},
        "additionalProperties": True,
    },
    "google.protobuf.Empty": {"type": "object"},
}
_WRAPPERS = {
    "google.protobuf.DoubleValue": _F.TYPE_DOUBLE,
    "google.protobuf.FloatValue": _F.TYPE_FLOAT,
    "google.protobuf.Int64Value": _F.TYPE_INT64,
    "google.protobuf.UInt64Value": _F.TYPE_UINT64,
    "google.protobuf.Int32Value": _F.TYPE_INT32,
    "google.protobuf.UInt32Value": _F.TYPE_UINT32,
    "google.protobuf.BoolValue": _F.TYPE_BOOL,
    "google.protobuf.StringValue": _F.TYPE_STRING,
    "google.protobuf.BytesValue": _F.TYPE_BYTES,
}


def component_name(full_name: str) -> str:
    """`agentopia.v1.ClientKey` → `ClientKey`; other packages keep their prefix."""
    return full_name.removeprefix("agentopia.v1.")


class SchemaBook:
    """Collects the components a document references, each built once."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog
        self.components: dict[str, dict[str, Any]] = {}

    def ref(self, full_name: str) -> dict[str, Any]:
        """A reference to a message or enum (inline for well-known types)."""
        if full_name in _WELL_KNOWN:
            return dict(_WELL_KNOWN[full_name])
        if full_name in _WRAPPERS:
            return {
                **_SCALARS[_WRAPPERS[full_name]],
                "type": [_SCALARS[_WRAPPERS[full_name]]["type"], "null"],
            }
        name = component_name(full_name)
        if name not in self.components:
            self.components[name] = {}  # placeholder: recursive messages terminate
            if full_name in self._catalog.enums:
                self.components[name] = self._enum(full_name)
            else:
                self.components[name] = self.message(full_name)
        return {"$ref": f"#/components/schemas/{name}"}

    def message(self, full_name: str, *, without: frozenset[str] = frozenset()) -> dict[str, Any]:
        """The object schema of a message, minus the fields in `without` (path parameters)."""
        message = self._catalog.messages[full_name]
        entries = {
            nested.name: nested for nested in message.nested_type if nested.options.map_entry
        }
        properties: dict[str, Any] = {}
        required: list[str] = []
        for item in message.field:
            if item.name in without:
                continue
            # OpenAPI 3.1 (JSON Schema 2020-12) allows keywords beside a $ref.
            prop = self.field(item, entries)
            text = self._catalog.comment(f"{full_name}.{item.name}")
            behaviors = field_behaviors(item)
            if "OUTPUT_ONLY" in behaviors:
                prop["readOnly"] = True
            if text:
                prop["description"] = text
            properties[item.name] = prop
            if "REQUIRED" in behaviors:
                required.append(item.name)
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        text = self._catalog.comment(full_name)
        if text:
            schema["description"] = text
        return schema

    def field(
        self,
        item: descriptor_pb2.FieldDescriptorProto,
        entries: dict[str, descriptor_pb2.DescriptorProto] | None = None,
    ) -> dict[str, Any]:
        """One field's schema (repeated fields as arrays, maps as objects)."""
        type_name = item.type_name.lstrip(".")
        entry = (entries or {}).get(type_name.rsplit(".", 1)[-1])
        if entry is not None and item.label == _F.LABEL_REPEATED:
            return {"type": "object", "additionalProperties": self.field(entry.field[1])}
        if item.type in (_F.TYPE_MESSAGE, _F.TYPE_GROUP, _F.TYPE_ENUM):
            single = self.ref(type_name)
        else:
            single = dict(_SCALARS[item.type])
        if item.label == _F.LABEL_REPEATED:
            return {"type": "array", "items": single}
        return single

    def _enum(self, full_name: str) -> dict[str, Any]:
        enum = self._catalog.enums[full_name]
        lines = []
        for value in enum.value:
            text = self._catalog.comment(f"{full_name}.{value.name}")
            lines.append(f"- `{value.name}`" + (f": {text}" if text else ""))
        summary = self._catalog.comment(full_name)
        description = "\n".join(([summary, ""] if summary else []) + lines)
        return {
            "type": "string",
            "enum": [value.name for value in enum.value],
            "description": description,
        }
