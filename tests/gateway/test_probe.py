"""The supervisor's health probe (`python -m gateway.probe`) against a real,
synchronous grpc.health.v1 server — the one place where pytest-grpc's sync
server fixtures fit (our services are grpc.aio; the probe is a sync client)."""

from __future__ import annotations

from typing import Any

import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from gateway.probe import grpc_probe, main
from tests.support.edge import free_port


@pytest.fixture(scope="module")
def grpc_addr() -> str:
    # pytest-grpc's own fixture leaves its probing socket open (a ResourceWarning).
    return f"127.0.0.1:{free_port()}"


@pytest.fixture(scope="module")
def grpc_add_to_server() -> Any:
    return health_pb2_grpc.add_HealthServicer_to_server


@pytest.fixture(scope="module")
def grpc_servicer() -> health.HealthServicer:
    return health.HealthServicer()


@pytest.fixture(scope="module")
def grpc_stub_cls(grpc_channel: Any) -> Any:
    return health_pb2_grpc.HealthStub


def test_probe_follows_the_serving_status(
    grpc_stub: Any, grpc_addr: str, grpc_servicer: health.HealthServicer
) -> None:
    grpc_servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    assert grpc_probe(grpc_addr)() is False
    assert main(["grpc", grpc_addr]) == 1
    grpc_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    assert grpc_probe(grpc_addr)() is True
    assert main(["grpc", grpc_addr]) == 0
    reply = grpc_stub.Check(health_pb2.HealthCheckRequest())
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_probe_is_false_when_the_service_is_unknown(
    grpc_stub: Any, grpc_addr: str, grpc_servicer: health.HealthServicer
) -> None:
    assert grpc_probe(grpc_addr, service="agentopia.v1.Nope")() is False


def test_probe_is_false_when_nothing_listens() -> None:
    assert grpc_probe("127.0.0.1:1")() is False
    assert main(["bogus"]) == 2
