"""Suite-wide fixtures. Area-specific fixtures live in each tests/<area>/conftest.py."""

from __future__ import annotations

import contextlib
import os

import pytest

from tools.backing import backing_services

_BACKING = pytest.StashKey[contextlib.ExitStack]()


def pytest_configure(config: pytest.Config) -> None:
    """PostgreSQL and Redis for the session: the configured ones when they answer
    (CI's service containers, a developer's, the machine's), else throw-away servers
    that stop with the session. Set in the environment, so that the services the
    end-to-end tests start as subprocesses see the same addresses."""
    stack = contextlib.ExitStack()
    os.environ.update(stack.enter_context(backing_services(os.environ)))
    config.stash[_BACKING] = stack


def pytest_unconfigure(config: pytest.Config) -> None:
    stack = config.stash.get(_BACKING, None)
    if stack is not None:
        stack.close()
