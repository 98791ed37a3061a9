"""Where a running Envoy listens, learned from Envoy itself.

The edge may listen on port 0 (tests, several edges on one machine): the system
picks the port and Envoy reports it. Its admin address goes to the file named by
`--admin-address-path`; each listener's bound address is in the admin API's
`/listeners?format=json`. Nothing here guesses a free port ahead of time, so no
other process can take a port between the guess and the bind.
"""

from __future__ import annotations

import json
import os
import pathlib
import urllib.error
import urllib.request
from collections.abc import Sequence

from gateway.settings import HostPort, parse_host_port

__all__ = [
    "EDGE_LISTENER",
    "admin_address_flag",
    "listener_ports",
    "publish_port",
    "read_admin_address",
]

EDGE_LISTENER = "edge"


def admin_address_flag(path: pathlib.Path) -> Sequence[str]:
    """The Envoy flag that makes it write its bound admin address to `path`."""
    return ("--admin-address-path", str(path))


def read_admin_address(path: pathlib.Path) -> HostPort | None:
    """The admin address Envoy wrote, or None while it has not written it yet."""
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    return parse_host_port(str(path), text) if text else None


def listener_ports(admin: HostPort) -> dict[str, int]:
    """Each listener's bound port by listener name; empty while Envoy is starting."""
    url = f"http://{admin}/listeners?format=json"
    try:
        with urllib.request.urlopen(url, timeout=2.0) as reply:
            statuses = json.loads(reply.read()).get("listener_statuses", [])
    except (OSError, urllib.error.URLError, ValueError):
        return {}
    ports: dict[str, int] = {}
    for status in statuses:
        socket_address = status.get("local_address", {}).get("socket_address", {})
        port = int(socket_address.get("port_value", 0))
        if port:
            ports[str(status.get("name", ""))] = port
    return ports


def publish_port(path: pathlib.Path, port: int) -> None:
    """Write `port` whole and rename it into place, so a reader never sees half of it."""
    staging = path.with_name(f"{path.name}.tmp")
    staging.write_text(str(port), encoding="ascii")
    os.replace(staging, path)
