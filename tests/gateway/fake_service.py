"""`python -m tests.gateway.fake_service HOST:PORT [PIDFILE]`: a health-only gRPC
server standing in for a mesh service; with PIDFILE it also starts a sleeping
grandchild and writes its pid there (to prove nothing survives a stop)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer


def spawn_grandchild(pidfile: str) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
    with open(pidfile, "w") as out:
        out.write(str(child.pid))


async def serve(listen: str) -> None:
    server = grpc.aio.server()
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    server.add_insecure_port(listen)
    await server.start()
    await health.set("", health_pb2.HealthCheckResponse.SERVING)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(1)


if __name__ == "__main__":
    if len(sys.argv) > 2:
        spawn_grandchild(sys.argv[2])
    asyncio.run(serve(sys.argv[1]))
