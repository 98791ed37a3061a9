"""The router's live model registry: which revision it routes with, how an admin
edit is validated and published, and how published revisions are applied.

Every replica follows one shared store (`RoutingConfigStore`): an update is
validated here, written to the store with compare-and-set on the version, and
applied by every replica — this one included — when the store reports it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

import grpc

from services.kernel.errors import GatewayError
from services.router.routing import Registry, RegistryError, RegistryHolder, parse_registry

__all__ = ["ConfigRevision", "LiveRegistry", "RoutingConfigStore", "validate"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ConfigRevision:
    version: int
    toml: str
    update_time: dt.datetime
    updated_by: str


class RoutingConfigStore(Protocol):
    async def put(
        self, toml: str, *, expected_version: int, updated_by: str, admin_token: str
    ) -> ConfigRevision:
        """Store a new revision (version = expected + 1); ABORTED GatewayError on a race.
        `admin_token` is the caller's admin key, which the store checks itself."""
        ...

    def watch(self) -> AsyncIterator[ConfigRevision]:
        """The current revision (if any), then every new one."""
        ...


def validate(toml: str, *, version: int) -> Registry:
    """Parse a registry document; INVALID_ARGUMENT naming the field when it is wrong."""
    try:
        return parse_registry(toml, source="update", version=version)
    except RegistryError as error:
        raise GatewayError(
            grpc.StatusCode.INVALID_ARGUMENT, "invalid_routing_config", str(error), param="toml"
        ) from None


class LiveRegistry:
    """The revision in force on this replica, kept in step with the store."""

    def __init__(self, holder: RegistryHolder, initial: ConfigRevision) -> None:
        self.holder = holder
        self.revision = initial

    def apply(self, revision: ConfigRevision) -> bool:
        """Adopt a stored revision if it is newer; a broken one is logged and skipped."""
        if revision.version <= self.revision.version:
            return False
        try:
            registry = parse_registry(revision.toml, source="store", version=revision.version)
        except RegistryError as error:
            _log.error("stored routing config v%d rejected: %s", revision.version, error)
            return False
        if self.holder.swap(registry):
            self.revision = revision
            _log.info("routing config v%d applied", revision.version)
            return True
        return False

    async def follow(self, store: RoutingConfigStore) -> None:
        """Apply revisions from the store forever, reconnecting with capped backoff."""
        delay = 0.1
        while True:
            try:
                async for revision in store.watch():
                    self.apply(revision)
                    delay = 0.1
            except GatewayError as error:
                _log.warning("routing config watch interrupted (%s); reconnecting", error.code)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def update(
        self,
        toml: str,
        *,
        expected_version: int,
        updated_by: str,
        admin_token: str,
        store: RoutingConfigStore,
    ) -> ConfigRevision:
        if expected_version != self.revision.version:
            raise _conflict(expected_version, self.revision.version)
        validate(toml, version=expected_version + 1)
        revision = await store.put(
            toml, expected_version=expected_version, updated_by=updated_by, admin_token=admin_token
        )
        self.apply(revision)
        return revision


def _conflict(expected: int, current: int) -> GatewayError:
    return GatewayError(
        grpc.StatusCode.ABORTED,
        "routing_config_conflict",
        f"The routing config is at version {current}, not {expected}; "
        "fetch it again and re-apply your edit.",
    )
