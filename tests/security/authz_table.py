"""The authorization matrix: every RPC of the descriptor set (gen/agentopia.pb) and its
REST route, and the documented answer for each kind of caller.

Where an answer is already a fact in the code it is read from there: internal methods
from the mesh's call graph (services/kernel/peers.py), the key vault's methods from
its servicers' access tables. The rest — the router's and the metrics service's public
methods — is declared here, so an RPC added without an entry fails
tests/security/test_authorization_matrix.py. `python -m tests.security.authz_table`
rewrites the table in docs/security.md (the test checks it is current).
"""

from __future__ import annotations

import enum
import pathlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from google.api import annotations_pb2
from google.protobuf import descriptor_pb2

from gateway.settings import REPO_ROOT
from keyvault.access import Access
from keyvault.audit.servicer import AuditServicer
from keyvault.client_keys.servicer import ClientKeyServicer
from keyvault.provider_keys.servicer import ProviderKeyServicer
from keyvault.routing_config.servicer import RoutingConfigServicer
from services.kernel.peers import WORKLOADS, callers_of

__all__ = [
    "CALLERS",
    "DOC",
    "Answer",
    "Kind",
    "Rpc",
    "expected",
    "kind_of",
    "render_table",
    "rpcs",
]

DESCRIPTOR_SET = REPO_ROOT / "gen" / "agentopia.pb"
DOC = REPO_ROOT / "docs" / "security.md"
BEGIN, END = "<!-- authorization-matrix:begin -->", "<!-- authorization-matrix:end -->"
CALLERS = ("no key", "client", "viewer", "admin", "service", "wrong service")


class Kind(enum.StrEnum):
    INFERENCE = "inference"  # client and admin keys
    MODELS = "models"  # any key
    ADMIN_READ = "admin read"  # viewer and admin keys
    ADMIN_WRITE = "admin write"  # admin keys
    SELF = "self"  # any key, about itself
    INTERNAL = "internal"  # a workload identity the call graph lists
    INTERNAL_ADMIN = "internal + admin key"  # a router forwarding an admin's key


class Answer(enum.StrEnum):
    ALLOWED = "allowed"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    PERMISSION_DENIED = "PERMISSION_DENIED"

    @property
    def http(self) -> str:
        return {"allowed": "2xx/4xx", "UNAUTHENTICATED": "401", "PERMISSION_DENIED": "403"}[
            self.value
        ]


_U, _P, _A = Answer.UNAUTHENTICATED, Answer.PERMISSION_DENIED, Answer.ALLOWED
# Per kind, the answer for each of CALLERS, in order.
_ANSWERS: Mapping[Kind, tuple[Answer, ...]] = MappingProxyType(
    {
        Kind.INFERENCE: (_U, _A, _P, _A, _U, _U),
        Kind.MODELS: (_U, _A, _A, _A, _U, _U),
        Kind.ADMIN_READ: (_U, _P, _A, _A, _U, _U),
        Kind.ADMIN_WRITE: (_U, _P, _P, _A, _U, _U),
        Kind.SELF: (_U, _A, _A, _A, _U, _U),
        Kind.INTERNAL: (_U, _U, _U, _U, _A, _P),
        Kind.INTERNAL_ADMIN: (_U, _U, _U, _U, _A, _P),
    }
)

# Public methods of the services with no access table of their own.
DECLARED: Mapping[str, Kind] = MappingProxyType(
    {
        "OpenAICompatService/ChatCompletions": Kind.INFERENCE,
        "OpenAICompatService/Completions": Kind.INFERENCE,
        "OpenAICompatService/Embeddings": Kind.INFERENCE,
        "OpenAICompatService/Models": Kind.MODELS,
        "OpenAICompatService/Model": Kind.MODELS,
        "MessagesService/CreateMessage": Kind.INFERENCE,
        "MessagesService/CountMessageTokens": Kind.INFERENCE,
        "InferenceService/CreateChatCompletion": Kind.INFERENCE,
        "InferenceService/StreamChatCompletion": Kind.INFERENCE,
        "InferenceService/CreateCompletion": Kind.INFERENCE,
        "InferenceService/StreamCompletion": Kind.INFERENCE,
        "InferenceService/CreateEmbeddings": Kind.INFERENCE,
        "InferenceService/ListModels": Kind.MODELS,
        "InferenceService/GetModel": Kind.MODELS,
        "RoutingAdminService/GetRoutingConfig": Kind.ADMIN_READ,
        "RoutingAdminService/ListDeploymentHealth": Kind.ADMIN_READ,
        "RoutingAdminService/ValidateRoutingConfig": Kind.ADMIN_READ,
        "RoutingAdminService/UpdateRoutingConfig": Kind.ADMIN_WRITE,
        "MetricsService/GetUsageSummary": Kind.ADMIN_READ,
        "MetricsService/ExportUsageCsv": Kind.ADMIN_READ,
        "MetricsService/GetLatencyReport": Kind.ADMIN_READ,
        "MetricsService/GetOverheadReport": Kind.ADMIN_READ,
        "MetricsService/StreamLiveStats": Kind.ADMIN_READ,
        "MetricsService/StreamLiveStatsEvents": Kind.ADMIN_READ,
    }
)

_KEYVAULT_KINDS = {
    Access.READ: Kind.ADMIN_READ,
    Access.WRITE: Kind.ADMIN_WRITE,
    Access.SELF: Kind.SELF,
    Access.INTERNAL: Kind.INTERNAL,
    Access.SERVICE: Kind.INTERNAL,
    Access.FORWARDED_WRITE: Kind.INTERNAL_ADMIN,
}
_KEYVAULT = {
    servicer.SERVICE.name: servicer.ACCESS
    for servicer in (ClientKeyServicer, ProviderKeyServicer, RoutingConfigServicer, AuditServicer)
}


@dataclass(frozen=True, slots=True)
class Rpc:
    service: str  # e.g. "ClientKeyService"
    method: str
    input_type: str  # full name, no leading dot
    output_type: str
    server_streaming: bool
    verb: str = ""  # REST mapping, "" when none
    path: str = ""
    body: str = ""

    @property
    def name(self) -> str:
        return f"{self.service}/{self.method}"

    @property
    def full_method(self) -> str:
        return f"/agentopia.v1.{self.name}"


def rpcs(descriptor_set: pathlib.Path = DESCRIPTOR_SET) -> list[Rpc]:
    """Every RPC of package agentopia.v1 in the descriptor set the edge serves."""
    files = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set.read_bytes())
    found: list[Rpc] = []
    for file in files.file:
        if file.package != "agentopia.v1":
            continue
        for service in file.service:
            for method in service.method:
                rule = method.options.Extensions[annotations_pb2.http]
                verb = rule.WhichOneof("pattern") or ""
                found.append(
                    Rpc(
                        service=service.name,
                        method=method.name,
                        input_type=method.input_type.lstrip("."),
                        output_type=method.output_type.lstrip("."),
                        server_streaming=method.server_streaming,
                        verb=verb if verb != "custom" else "",
                        path=getattr(rule, verb) if verb and verb != "custom" else "",
                        body=rule.body,
                    )
                )
    return sorted(found, key=lambda rpc: rpc.name)


def kind_of(rpc: Rpc) -> Kind | None:
    """The documented kind of `rpc`; None when nothing documents it."""
    table = _KEYVAULT.get(rpc.service)
    if table is not None and rpc.method in table:
        return _KEYVAULT_KINDS[table[rpc.method]]
    if callers_of(rpc.full_method) is not None:
        return Kind.INTERNAL
    return DECLARED.get(rpc.name)


def expected(kind: Kind) -> dict[str, Answer]:
    return dict(zip(CALLERS, _ANSWERS[kind], strict=True))


def service_workloads(rpc: Rpc) -> tuple[str, str]:
    """(an allowed workload, one the call graph refuses) for the two identity
    columns; for public methods, two workloads whose identity is no API key."""
    allowed = callers_of(rpc.full_method)
    if allowed is None:
        return "router", "keyvault"
    return (
        next(name for name in WORKLOADS if name in allowed),
        next(name for name in WORKLOADS if name not in allowed),
    )


def render_table() -> str:
    lines = [
        "| RPC | REST | kind | " + " | ".join(CALLERS) + " |",
        "|---|---|---|" + "---|" * len(CALLERS),
    ]
    for rpc in rpcs():
        kind = kind_of(rpc)
        assert kind is not None, f"{rpc.name} has no documented access"
        rest = f"`{rpc.verb.upper()} {rpc.path}`" if rpc.verb else "—"
        answers = expected(kind)
        workloads = service_workloads(rpc)
        cells = []
        for caller in CALLERS:
            answer = answers[caller]
            text = "allowed" if answer is Answer.ALLOWED else f"{answer.http} {answer.value}"
            if caller == "service" and kind in (Kind.INTERNAL, Kind.INTERNAL_ADMIN):
                text += f" ({workloads[0]})"
            if caller == "wrong service" and kind in (Kind.INTERNAL, Kind.INTERNAL_ADMIN):
                text += f" ({workloads[1]})"
            cells.append(text)
        lines.append(f"| `{rpc.name}` | {rest} | {kind.value} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def current_doc(text: str) -> str:
    """`text` (docs/security.md) with the generated table in place."""
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{render_table()}{END}{tail}"


if __name__ == "__main__":
    DOC.write_text(current_doc(DOC.read_text()))
    sys.stdout.write(f"wrote the authorization matrix into {DOC}\n")
