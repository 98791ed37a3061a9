"""`python -m tests.gateway.fake_service HOST:PORT PORTFILE [PIDFILE]`: a health-only
gRPC server standing in for a mesh service. It binds HOST:PORT (port 0: one the
system picks) and writes the bound port to PORTFILE; with PIDFILE it also starts
a sleeping grandchild and writes its pid there (to prove nothing survives a stop)."""

from __future__ import annotations

import asyncio
import os
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


def publish(port_file: str, port: int) -> None:
    with open(f"{port_file}.tmp", "w") as out:
        out.write(str(port))
    os.replace(f"{port_file}.tmp", port_file)


async def serve(listen: str, port_file: str) -> None:
    server = grpc.aio.server()
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    port = server.add_insecure_port(listen)
    await server.start()
    await health.set("", health_pb2.HealthCheckResponse.SERVING)
    publish(port_file, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(1)


if __name__ == "__main__":
    if len(sys.argv) > 3:
        spawn_grandchild(sys.argv[3])
    asyncio.run(serve(sys.argv[1], sys.argv[2]))
