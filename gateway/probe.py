"""Health probes for supervisors and container health checks.

    python -m gateway.probe grpc 127.0.0.1:50053         # grpc.health.v1 says SERVING
    python -m gateway.probe http http://127.0.0.1:8080/healthz
Exit status 0 when healthy, 1 otherwise.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from collections.abc import Callable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

__all__ = ["Probe", "grpc_probe", "http_probe"]

Probe = Callable[[], bool]


def grpc_probe(target: str, service: str = "") -> Probe:
    """grpc.health.v1 Check (overall server health by default) says SERVING."""

    def check() -> bool:
        with grpc.insecure_channel(target) as channel:
            try:
                reply = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=service), timeout=1.0
                )
            except grpc.RpcError:
                return False
            return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    return check


def http_probe(url: str) -> Probe:
    """GET answers 200."""

    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1.0) as reply:  # noqa: S310
                return bool(reply.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    return check


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("grpc", "http"):
        sys.stderr.write(__doc__ or "")
        return 2
    probe = grpc_probe(argv[1]) if argv[0] == "grpc" else http_probe(argv[1])
    return 0 if probe() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
