"""Generate Python stubs, typing stubs and Envoy's descriptor set from protos/.

Run by `make protos`. Output goes to gen/ (never committed): Python modules
under gen/agentopia/v1/ and the descriptor set gen/agentopia.pb that Envoy's
gRPC-JSON transcoder loads.
"""

from __future__ import annotations

import pathlib
import sys

import grpc_tools
from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
GEN = ROOT / "gen"
# The mypy-protobuf plugins sit beside the interpreter in the venv.
BIN = pathlib.Path(sys.executable).parent


def _include_dirs() -> list[str]:
    # google/api/*.proto ship with googleapis-common-protos; the well-known
    # types ship with grpcio-tools.
    import google.api  # noqa: PLC0415  (namespace package resolved at run time)

    api_root = pathlib.Path(next(iter(google.api.__path__))).parent.parent
    wkt_root = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    return [str(PROTOS), str(api_root), str(wkt_root)]


def main() -> int:
    sources = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.glob("agentopia/**/*.proto"))
    (GEN / "agentopia" / "v1").mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        *(f"-I{d}" for d in _include_dirs()),
        f"--python_out={GEN}",
        f"--grpc_python_out={GEN}",
        f"--plugin=protoc-gen-mypy={BIN / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={BIN / 'protoc-gen-mypy_grpc'}",
        f"--mypy_out={GEN}",
        f"--mypy_grpc_out={GEN}",
        *sources,
    ]
    code = protoc.main(args)
    if code != 0:
        return int(code)
    # Envoy's descriptor set also carries google.rpc's error details, so the
    # transcoder can render a GatewayError's Status (ErrorInfo, RetryInfo) for
    # REST clients. A separate call: no google/rpc Python stubs land in gen/.
    descriptor_args = [
        "grpc_tools.protoc",
        *(f"-I{d}" for d in _include_dirs()),
        f"--descriptor_set_out={GEN / 'agentopia.pb'}",
        "--include_imports",
        "--include_source_info",
        *sources,
        "google/rpc/error_details.proto",
    ]
    code = protoc.main(descriptor_args)
    if code != 0:
        return int(code)
    for pkg in (GEN / "agentopia", GEN / "agentopia" / "v1"):
        (pkg / "__init__.py").touch()
        (pkg / "py.typed").touch()
    return 0


if __name__ == "__main__":
    sys.exit(main())
