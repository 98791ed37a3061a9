"""Addresses for tests that need "nobody there", without guessing free ports.

    with refused_port() as port:
        ...   # connecting to 127.0.0.1:port is refused until the block ends

The port is bound (never listening) and held for the whole block, so the
connection is refused by the kernel and no other process can take the port
meanwhile — unlike "bind 0, release, reuse", which races with every other
program that binds.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

__all__ = ["LOOPBACK", "refused_port"]

LOOPBACK = "127.0.0.1"


@contextlib.contextmanager
def refused_port() -> Iterator[int]:
    """A loopback port that refuses connections while the block runs."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        yield port
