"""The `python -m <service>` entry shared by every service: run the coroutine,
turn a configuration error into one clear line and exit status 2 (no traceback)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from services.kernel.config import ConfigError

__all__ = ["run_service"]


def run_service(name: str, main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    try:
        asyncio.run(main())
    except ConfigError as error:
        print(f"{name}: configuration error: {error}", file=sys.stderr)  # noqa: T201
        raise SystemExit(2) from None
    except KeyboardInterrupt:  # a second Ctrl-C during drain
        raise SystemExit(130) from None
