"""Provider keys leased from the key vault: resolution per call, outcomes reported back.

`VaultKeys` follows WatchProviderKeys with `keyvault.client.ProviderKeyLease` (its
reconnect loop: the last snapshot stays in use while the key vault is away) and feeds
every snapshot to a `KeyIndex`; it reports each upstream call's outcome through an
`OutcomeReporter`. A 401/403 or 429 also takes effect here at once (the key is not
chosen again, or only as a last resort until Retry-After), so this replica does not
keep using a bad key while the key vault propagates the new state to every replica.
Secrets live in memory only, inside `Credential`s whose repr hides them; nothing here
logs more than key ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping, Sequence

import grpc
from agentopia.v1 import keyvault_service_pb2 as kv_pb2
from agentopia.v1 import keyvault_service_pb2_grpc as kv_grpc

from keyvault.client.provider_keys import ProviderKeyLease
from services.kernel.errors import GatewayError
from services.kernel.hosting import channel_options
from services.provider import errors
from services.provider.adapters.base import Credential, Usage
from services.provider.config import KeyVaultLink
from services.provider.keys.index import KeyIndex
from services.provider.keys.reporter import Outcome, OutcomeReporter

__all__ = ["VaultKeys", "upstream_status"]

_log = logging.getLogger(__name__)
_REJECTED = (401, 403)
_DEFAULT_COOLDOWN_S = 30.0  # the key vault's default too
_MAX_COOLDOWN_S = 3600.0
_RPC_TIMEOUT_S = 10.0
_CLOSE_FLUSH_S = 2.0


def upstream_status(error: GatewayError) -> int | None:
    """The upstream HTTP status behind an error; 0 for a transport failure; None when the
    call never reached the upstream (e.g. the adapter refused the request)."""
    raw = error.metadata.get("upstream_status")
    if raw is not None:
        with contextlib.suppress(ValueError):
            return int(raw)
    return 0 if error.code.startswith("upstream_") else None


class _Lease(ProviderKeyLease):
    """The key vault's lease client, with each snapshot also handed to our index."""

    def __init__(
        self,
        channel: grpc.aio.Channel,
        index: KeyIndex,
        link: KeyVaultLink,
        providers: Sequence[str],
    ) -> None:
        # Outcomes go through our own bounded reporter, so the lease's queue stays empty.
        super().__init__(
            channel,
            service_token=link.service_token,
            watcher=link.watcher,
            providers=providers,
            report_interval_s=3600.0,
        )
        self._index = index

    def apply(self, snapshot: kv_pb2.WatchProviderKeysResponse) -> None:
        super().apply(snapshot)
        self._index.apply(snapshot.keys, snapshot.version)


def _open_channel(target: str) -> grpc.aio.Channel:
    # Reconnect quickly after a key-vault restart (gRPC's default backoff grows to 120 s).
    options = [
        *channel_options(16 * 1024 * 1024),
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.min_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", 2000),
    ]
    return grpc.aio.insecure_channel(target, options=options)


class VaultKeys:
    def __init__(self, link: KeyVaultLink, providers: Sequence[str]) -> None:
        self._link = link
        self._providers = tuple(providers)
        self._metadata = (("authorization", f"Bearer {link.service_token}"),)
        self.index = KeyIndex()
        self._channel: grpc.aio.Channel | None = None
        self._stub: kv_grpc.KeyVaultServiceAsyncStub | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.reporter = OutcomeReporter(
            self._send,
            on_headroom=self.index.observe_headroom,
            capacity=link.report_buffer,
            interval_s=link.report_interval_s,
        )

    # ---- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        """Follow the lease; wait up to `lease_wait_s` for the first snapshot (until then
        calls use the environment's keys)."""
        self._channel = _open_channel(self._link.target)
        self._stub = kv_grpc.KeyVaultServiceStub(self._channel)
        lease = _Lease(self._channel, self.index, self._link, self._providers)
        self._tasks = [
            asyncio.create_task(lease.follow(), name="provider-key-lease"),
            asyncio.create_task(self.reporter.run(), name="provider-key-reports"),
        ]
        try:
            await asyncio.wait_for(lease.ready.wait(), self._link.lease_wait_s)
        except TimeoutError:
            _log.warning(
                "no provider-key lease from the key vault at %s yet; using the "
                "environment's keys until it answers",
                self._link.target,
            )
        else:
            _log.info("provider keys leased from the key vault at %s", self._link.target)

    async def close(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._stub is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.reporter.flush(), _CLOSE_FLUSH_S)
        if self._channel is not None:
            await self._channel.close(None)
            self._channel = None

    async def _send(self, request: kv_pb2.ReportKeyOutcomesRequest) -> None:
        if self._stub is None:
            raise RuntimeError("not started")
        await self._stub.ReportKeyOutcomes(request, metadata=self._metadata, timeout=_RPC_TIMEOUT_S)

    # ---- resolution (hot path) -------------------------------------------------------------
    @property
    def ready(self) -> bool:
        """A snapshot has arrived (since then the key vault's word on keys is final)."""
        return self.index.version >= 0

    def has_keys(self, provider: str) -> bool:
        return self.index.has_keys(provider)

    def owns(self, credential: Credential | None) -> bool:
        return credential is not None and self.index.slot(credential.key_id) is not None

    def credential(self, provider: str, credential_id: str, *, required: bool) -> Credential | None:
        """The leased key for a call, or None when the key vault holds no key for that
        provider and pool (the caller then falls back to the environment's key).
        Raises when the id names another provider's key, or (`required`) when every key
        of the pool is disabled."""
        index = self.index
        if credential_id:
            slot = index.slot(credential_id)
            if slot is not None:
                if slot.provider != provider:
                    raise errors.credential_not_found(provider, credential_id)
                return slot.credential
        pool = index.pool(provider, credential_id)
        if not pool:
            return None
        chosen = index.choose(pool)
        if chosen is not None:
            return chosen.credential
        if required:
            raise errors.no_usable_key(provider, credential_id, len(pool))
        return None

    # ---- outcomes ------------------------------------------------------------------------
    def succeeded(
        self, credential: Credential, rate_limits: Mapping[str, str], usage: Usage
    ) -> None:
        self.reporter.add(
            Outcome(
                credential.key_id,
                200,
                time.time(),
                rate_limits=rate_limits,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
            )
        )

    def failed(
        self,
        provider: str,
        credential_id: str,
        credential: Credential,
        error: GatewayError,
        *,
        may_retry: bool,
    ) -> Credential | None:
        """Report a failed call and apply its consequence here; returns another key of
        the same pool to retry once with, after a 401/403 on a pooled key."""
        status = upstream_status(error)
        if status is None:
            return None  # the upstream never saw this key
        key_id = credential.key_id
        retry_after = error.retry_after_s if status == 429 else None
        if status in _REJECTED:
            self.index.disable(key_id)
        elif status == 429:
            pause = _DEFAULT_COOLDOWN_S if retry_after is None else retry_after
            self.index.cool(key_id, min(pause, _MAX_COOLDOWN_S))
        urgent = status in _REJECTED or status == 429
        self.reporter.add(
            Outcome(key_id, status, time.time(), retry_after_s=retry_after), urgent=urgent
        )
        if not may_retry or status not in _REJECTED or credential_id == key_id:
            return None
        other = self.index.choose(self.index.pool(provider, credential_id), avoid=key_id)
        if other is None:
            return None
        _log.warning(
            "provider key %s was rejected (HTTP %d); retrying once with key %s",
            key_id,
            status,
            other.key_id,
            extra={"provider": provider},
        )
        return other.credential
