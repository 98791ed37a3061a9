"""A byte relay from a Unix socket to a loopback TCP port that is known only later.

Services in a test mesh listen on ports they pick themselves, so a service's
address exists only once it runs. When two services need each other's address
(the key vault validates keys through the provider service, which leases keys
from the key vault), one of them is given this relay's socket path up front;
`forward_to(port)` connects it once the other has reported its port:

    with unix_relay("provider") as relay:
        ... start the key vault with AGENTOPIA_PROVIDER_TARGET=relay.target ...
        ... start the provider, learn its port ...
        relay.forward_to(port)

The relay runs its own event loop in a thread, so it keeps forwarding while the
test's loop is busy (or not running at all, in a synchronous test).
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

__all__ = ["UnixRelay", "unix_relay"]

_CHUNK = 65536
T = TypeVar("T")


class UnixRelay:
    """Accepts on a Unix socket; pipes each connection to 127.0.0.1:`port`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._loop = asyncio.new_event_loop()
        self._port: asyncio.Future[int] = self._loop.create_future()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    @property
    def target(self) -> str:
        """The gRPC target of the relay."""
        return f"unix:{self.path}"

    def __enter__(self) -> UnixRelay:
        self._thread.start()
        self._server = self._call(asyncio.start_unix_server(self._accept, str(self.path)))
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.close()
            self._call(self._server.wait_closed())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
        self.path.unlink(missing_ok=True)

    def forward_to(self, port: int) -> None:
        """Connect the relay to the TCP port (connections made earlier wait for it)."""
        self._loop.call_soon_threadsafe(self._port.set_result, port)

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        port = await asyncio.shield(self._port)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            writer.transport.abort()
            return
        pumps = [
            asyncio.ensure_future(_pump(reader, up_writer)),
            asyncio.ensure_future(_pump(up_reader, writer)),
        ]
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for pump in pumps:
            pump.cancel()
        for end in (writer, up_writer):
            end.transport.abort()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()


@contextlib.contextmanager
def unix_relay(name: str) -> Iterator[UnixRelay]:
    """A relay whose socket is in a new short-lived folder (Unix socket paths are
    limited to about a hundred bytes, so not under a test's deep tmp_path)."""
    with (
        tempfile.TemporaryDirectory(prefix="agentopia-") as folder,
        UnixRelay(Path(folder) / f"{name}.sock") as relay,
    ):
        yield relay
