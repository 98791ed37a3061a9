"""One mesh behind one edge serving the built console, for the browser tests
of this folder, plus a viewer and a client key to sign in with."""

from __future__ import annotations

import json
import pathlib
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio

from gateway.settings import CONSOLE_BUILD
from tests.console.browser import CHROMIUM
from tests.console.stack import ConsoleStack, run_console_stack


@dataclass(frozen=True)
class Console:
    stack: ConsoleStack
    viewer_key: str
    client_key: str

    @property
    def url(self) -> str:
        return self.stack.url

    @property
    def admin_key(self) -> str:
        return self.stack.admin_key

    def env(self, **extra: str) -> dict[str, str]:
        """What every browser script reads."""
        return {
            "CONSOLE_URL": self.url,
            "ADMIN_KEY": self.admin_key,
            "VIEWER_KEY": self.viewer_key,
            "CLIENT_KEY": self.client_key,
            **extra,
        }

    def api(self, path: str, body: dict[str, Any] | None = None, *, key: str = "") -> Any:
        """The gateway's REST API, as the console calls it (JSON in, JSON out)."""
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "authorization": f"Bearer {key or self.admin_key}",
                "content-type": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
        return json.loads(raw) if raw.startswith(b"{") else raw.decode()


def _require_prerequisites() -> None:
    # Fail, never skip: a console nobody can test is a broken build.
    if not (CONSOLE_BUILD / "index.html").is_file():
        pytest.fail(f"{CONSOLE_BUILD} holds no built console: run `make console`", pytrace=False)
    if not pathlib.Path(CHROMIUM).is_file():
        pytest.fail(f"no Chromium at {CHROMIUM} (apt-get install chromium)", pytrace=False)


@pytest_asyncio.fixture(scope="session")
async def console(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Console]:
    _require_prerequisites()
    async with run_console_stack(tmp_path_factory.mktemp("console-mesh")) as stack:
        keys = Console(stack, "", "")
        viewer = keys.api(
            "/agentopia/v1/client-keys", {"name": "console viewer", "role": "KEY_ROLE_VIEWER"}
        )
        client = keys.api(
            "/agentopia/v1/client-keys", {"name": "console client", "role": "KEY_ROLE_CLIENT"}
        )
        yield Console(stack, viewer["secret"], client["secret"])
