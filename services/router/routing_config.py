"""The router's live model registry: which revision it routes with, how an admin
edit is validated and published, and how published revisions are applied.

Every replica follows one shared store (`RoutingConfigStore`): an update is
validated here, written to the store with compare-and-set on the version, and
applied by every replica — this one included — when the store reports it.
Validation is the registry's own (every field) plus the router's facts: prices
from the shared price table, and each model's capability claims against what
its providers' adapters declare (`RegistryParser`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import grpc

from metrics.client.pricing import PriceTable
from services.kernel.errors import GatewayError
from services.kernel.watch import Backoff, follow_forever
from services.router.routing import Registry, RegistryError, RegistryHolder, parse_registry
from services.router.routing.capabilities import Capabilities
from services.router.routing.claims import check_claims

__all__ = ["ConfigRevision", "LiveRegistry", "RegistryParser", "RoutingConfigStore"]

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


def _no_adapters() -> Mapping[str, Capabilities]:
    return {}


@dataclass(frozen=True, slots=True)
class RegistryParser:
    """A registry document as this router routes with it: priced from `prices` and
    its capability claims checked against `adapters()` (each provider's declared
    capabilities, as last reported; empty until the provider list is known)."""

    prices: PriceTable
    adapters: Callable[[], Mapping[str, Capabilities]] = _no_adapters

    def parse(self, toml: str, *, source: str, version: int | None = None) -> Registry:
        """RegistryError naming the field, or the model, capability and provider."""
        registry = parse_registry(toml, source=source, version=version, prices=self.prices)
        check_claims(registry, self.adapters())
        return registry


class LiveRegistry:
    """The revision in force on this replica, kept in step with the store."""

    def __init__(
        self, holder: RegistryHolder, initial: ConfigRevision, parser: RegistryParser
    ) -> None:
        self.holder = holder
        self.revision = initial
        self.parser = parser

    def validate(self, toml: str, *, version: int) -> Registry:
        """Parse an edit; INVALID_ARGUMENT naming what is wrong."""
        try:
            return self.parser.parse(toml, source="update", version=version)
        except RegistryError as error:
            raise GatewayError(
                grpc.StatusCode.INVALID_ARGUMENT, "invalid_routing_config", str(error), param="toml"
            ) from None

    def apply(self, revision: ConfigRevision) -> bool:
        """Adopt a stored revision if it is newer; a broken one is logged and skipped."""
        if revision.version <= self.revision.version:
            return False
        try:
            registry = self.parser.parse(revision.toml, source="store", version=revision.version)
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

        async def once(backoff: Backoff) -> None:
            async for revision in store.watch():
                self.apply(revision)
                backoff.reset()

        await follow_forever(
            "routing config watch",
            once,
            expected=(GatewayError,),
            max_s=5.0,
        )

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
        self.validate(toml, version=expected_version + 1)
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
