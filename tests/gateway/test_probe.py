"""The supervisor's health probe (`python -m gateway.probe`) against a real,
synchronous grpc.health.v1 server (the probe is a sync client) on a port it picks."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from gateway.probe import grpc_probe, main
from tests.support.ports import refused_port


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, health.HealthServicer]]:
    servicer = health.HealthServicer()
    with ThreadPoolExecutor(max_workers=2) as pool:
        server = grpc.server(pool)
        health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        try:
            yield f"127.0.0.1:{port}", servicer
        finally:
            server.stop(None)


def test_probe_follows_the_serving_status(served: tuple[str, health.HealthServicer]) -> None:
    target, servicer = served
    servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    assert grpc_probe(target)() is False
    assert main(["grpc", target]) == 1
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    assert grpc_probe(target)() is True
    assert main(["grpc", target]) == 0


def test_probe_is_false_when_the_service_is_unknown(
    served: tuple[str, health.HealthServicer],
) -> None:
    target, _ = served
    assert grpc_probe(target, service="agentopia.v1.Nope")() is False


def test_probe_is_false_when_nothing_listens() -> None:
    with refused_port() as port:
        assert grpc_probe(f"127.0.0.1:{port}")() is False
    assert main(["bogus"]) == 2
