"""The descriptor set `make protos` builds, read as an index of messages, enums,
services and their source comments."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from google.api import annotations_pb2, field_behavior_pb2, http_pb2
from google.protobuf import descriptor_pb2

__all__ = ["HTTP_BODY", "Catalog", "Method", "field_behaviors", "http_rule"]

HTTP_BODY = "google.api.HttpBody"

# SourceCodeInfo paths: field numbers of FileDescriptorProto / DescriptorProto.
_MESSAGE, _ENUM, _SERVICE = 4, 5, 6
_FIELD, _NESTED, _NESTED_ENUM = 2, 3, 4
_ENUM_VALUE, _METHOD = 2, 2


@dataclass(frozen=True)
class Method:
    """One RPC with the service it belongs to."""

    service: str  # full name, `agentopia.v1.ClientKeyService`
    proto: descriptor_pb2.MethodDescriptorProto
    comment: str

    @property
    def name(self) -> str:
        return self.proto.name

    @property
    def input(self) -> str:
        return self.proto.input_type.lstrip(".")

    @property
    def output(self) -> str:
        return self.proto.output_type.lstrip(".")

    @property
    def grpc_path(self) -> str:
        return f"/{self.service}/{self.name}"

    @property
    def passthrough(self) -> bool:
        """Raw HTTP bodies: the schema is the client format's, not a proto message's."""
        return HTTP_BODY in (self.input, self.output)


@dataclass
class Catalog:
    """Every message, enum and method of a descriptor set, by full name."""

    messages: dict[str, descriptor_pb2.DescriptorProto] = field(default_factory=dict)
    enums: dict[str, descriptor_pb2.EnumDescriptorProto] = field(default_factory=dict)
    methods: list[Method] = field(default_factory=list)
    comments: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: pathlib.Path) -> Catalog:
        files = descriptor_pb2.FileDescriptorSet.FromString(path.read_bytes())
        catalog = cls()
        for proto in files.file:
            catalog._add_file(proto)
        return catalog

    def comment(self, full_name: str) -> str:
        return self.comments.get(full_name, "")

    def public_methods(self, package: str = "agentopia.v1") -> Iterator[Method]:
        return (m for m in self.methods if m.service.startswith(f"{package}."))

    def _add_file(self, proto: descriptor_pb2.FileDescriptorProto) -> None:
        by_path = {
            tuple(loc.path): _clean(loc.leading_comments or loc.trailing_comments)
            for loc in proto.source_code_info.location
            if loc.leading_comments or loc.trailing_comments
        }
        prefix = proto.package
        for i, message in enumerate(proto.message_type):
            self._add_message(message, f"{prefix}.{message.name}", (_MESSAGE, i), by_path)
        for i, enum in enumerate(proto.enum_type):
            self._add_enum(enum, f"{prefix}.{enum.name}", (_ENUM, i), by_path)
        for i, service in enumerate(proto.service):
            name = f"{prefix}.{service.name}"
            self.comments[name] = by_path.get((_SERVICE, i), "")
            for j, method in enumerate(service.method):
                text = by_path.get((_SERVICE, i, _METHOD, j), "")
                self.methods.append(Method(name, method, text))

    def _add_message(
        self,
        message: descriptor_pb2.DescriptorProto,
        name: str,
        path: tuple[int, ...],
        by_path: dict[tuple[int, ...], str],
    ) -> None:
        self.messages[name] = message
        self.comments[name] = by_path.get(path, "")
        for j, item in enumerate(message.field):
            self.comments[f"{name}.{item.name}"] = by_path.get((*path, _FIELD, j), "")
        for j, nested in enumerate(message.nested_type):
            self._add_message(nested, f"{name}.{nested.name}", (*path, _NESTED, j), by_path)
        for j, enum in enumerate(message.enum_type):
            self._add_enum(enum, f"{name}.{enum.name}", (*path, _NESTED_ENUM, j), by_path)

    def _add_enum(
        self,
        enum: descriptor_pb2.EnumDescriptorProto,
        name: str,
        path: tuple[int, ...],
        by_path: dict[tuple[int, ...], str],
    ) -> None:
        self.enums[name] = enum
        self.comments[name] = by_path.get(path, "")
        for j, value in enumerate(enum.value):
            self.comments[f"{name}.{value.name}"] = by_path.get((*path, _ENUM_VALUE, j), "")


def _clean(comment: str) -> str:
    """A proto comment as prose: lint directives dropped, lines joined per paragraph."""
    lines = [line.strip() for line in comment.strip().splitlines()]
    kept = [line for line in lines if not line.startswith("buf:lint:")]
    paragraphs = "\n".join(kept).split("\n\n")
    return "\n\n".join(" ".join(p.split("\n")).strip() for p in paragraphs).strip()


def http_rule(method: Method) -> http_pb2.HttpRule | None:
    """The method's `google.api.http` mapping, None for mesh-internal RPCs."""
    options = method.proto.options
    if not options.HasExtension(annotations_pb2.http):
        return None
    return options.Extensions[annotations_pb2.http]


def field_behaviors(item: descriptor_pb2.FieldDescriptorProto) -> set[str]:
    """`REQUIRED`, `OUTPUT_ONLY`, ... from `google.api.field_behavior`."""
    values = item.options.Extensions[field_behavior_pb2.field_behavior]
    return {field_behavior_pb2.FieldBehavior.Name(v) for v in values}
