"""The health probe against a synchronous grpc.health.v1 server that pytest-grpc
starts, listening on a Unix socket (the probe accepts any gRPC target): per-service
status, as a supervisor's readiness check asks for it. The socket lives in a
temporary folder, so there is no port to pick and nothing to collide with."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from gateway.probe import grpc_probe, main

_SERVICE = "agentopia.v1.OpenAICompatService"


@pytest.fixture(scope="module")
def grpc_addr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("probe")
    yield f"unix:{folder / 'health.sock'}"


@pytest.fixture(scope="module")
def grpc_add_to_server() -> Callable[[Any, Any], None]:
    return health_pb2_grpc.add_HealthServicer_to_server


@pytest.fixture(scope="module")
def grpc_servicer() -> health.HealthServicer:
    return health.HealthServicer()


@pytest.fixture(scope="module")
def grpc_stub_cls(grpc_channel: Any) -> Any:
    return health_pb2_grpc.HealthStub


def test_the_probe_reads_one_services_status(
    grpc_stub: Any, grpc_addr: str, grpc_servicer: health.HealthServicer
) -> None:
    grpc_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    grpc_servicer.set(_SERVICE, health_pb2.HealthCheckResponse.NOT_SERVING)
    reply = grpc_stub.Check(health_pb2.HealthCheckRequest(service=_SERVICE))
    assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING
    assert grpc_probe(grpc_addr)() is True
    assert grpc_probe(grpc_addr, service=_SERVICE)() is False
    grpc_servicer.set(_SERVICE, health_pb2.HealthCheckResponse.SERVING)
    assert grpc_probe(grpc_addr, service=_SERVICE)() is True
    assert main(["grpc", grpc_addr]) == 0
