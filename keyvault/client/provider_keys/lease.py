"""The provider service's side of key custody, in one place: follow WatchProviderKeys,
resolve a key per upstream call, report each call's outcome back.

    lease = ProviderKeyLease(settings, providers=("openai", ...))
    life.spawn(lease.run(), "provider-key lease")     # follows and reports; reconnects
    await lease.wait_ready()                           # up to settings.lease_wait_s
    credential = lease.credential("openai", credential_id, required=True)
    ...                                                # call upstream with credential.secret
    lease.succeeded(credential, rate_limit_headers, prompt_tokens=..., completion_tokens=...)
    retry = lease.failed("openai", credential_id, credential, status, ...)
    await lease.close()                                # sends what is still buffered

Each snapshot replaces the `KeyIndex` (index.py: tiers, smooth weighted round robin over
weight x headroom); the last snapshot stays in use while the key vault is away. Outcomes
go through the bounded `OutcomeReporter` (reporter.py), off the request path. A 401/403
or 429 also takes effect here at once (the key is not chosen again, or only as a last
resort until Retry-After), so this replica does not keep using a bad key while the key
vault propagates the new state to every replica. Secrets live in memory only, inside
`Credential`s whose repr hides them; nothing here logs more than key ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping, Sequence

import grpc
from agentopia.v1 import provider_key_service_pb2 as kv_pb2
from agentopia.v1 import provider_key_service_pb2_grpc as kv_grpc

from keyvault.client.provider_keys.credential import Credential
from keyvault.client.provider_keys.errors import credential_not_found, no_usable_key
from keyvault.client.provider_keys.index import KeyIndex
from keyvault.client.provider_keys.reporter import Outcome, OutcomeReporter
from keyvault.client.provider_keys.settings import LeaseSettings
from services.kernel.channels import raw_channel
from services.kernel.hosting import channel_options
from services.kernel.identity import IdentitySettings
from services.kernel.watch import Backoff, follow_forever

__all__ = ["ProviderKeyLease"]

_log = logging.getLogger(__name__)
_REJECTED = (401, 403)
_RATE_LIMITED = 429
_DEFAULT_COOLDOWN_S = 30.0  # the key vault's default too
_MAX_COOLDOWN_S = 3600.0
_RPC_TIMEOUT_S = 10.0
_CLOSE_FLUSH_S = 2.0
_FIRST_BACKOFF_S = 0.1
_MAX_BACKOFF_S = 5.0


def _open_channel(target: str, identity: IdentitySettings) -> grpc.aio.Channel:
    # Reconnect quickly after a key-vault restart (gRPC's default backoff grows to 120 s).
    options = [
        *channel_options(16 * 1024 * 1024),
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.min_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", 2000),
    ]
    # Mutual TLS when this workload has certificates (the token rides in _metadata).
    return raw_channel(target, options=options, identity=identity)


class ProviderKeyLease:
    """The provider keys leased to this replica, and what it reports about them.

    `channel` is for tests that already hold one to the key vault; otherwise the lease
    opens its own to `settings.target` and closes it in `close()`."""

    def __init__(
        self,
        settings: LeaseSettings,
        providers: Sequence[str],
        *,
        channel: grpc.aio.Channel | None = None,
        index: KeyIndex | None = None,
    ) -> None:
        self._settings = settings
        self._owns_channel = channel is None
        self._channel = (
            channel if channel is not None else _open_channel(settings.target, settings.identity)
        )
        self._stub = kv_grpc.ProviderKeyServiceStub(self._channel)
        self._metadata = (
            ("authorization", f"Bearer {settings.service_token}"),
            *settings.identity.call_metadata,
        )
        self._request = kv_pb2.WatchProviderKeysRequest(
            watcher=settings.watcher, providers=tuple(providers)
        )
        self.index = index if index is not None else KeyIndex()
        self.reporter = OutcomeReporter(
            self._send,
            on_headroom=self.index.observe_headroom,
            capacity=settings.report_buffer,
            interval_s=settings.report_interval_s,
        )
        self._first = asyncio.Event()

    # ---- following the key vault ---------------------------------------------------------
    async def run(self) -> None:
        """Follow the lease and send reports until cancelled."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.follow(), name="provider-key watch")
            group.create_task(self.reporter.run(), name="provider-key reports")

    async def follow(self) -> None:
        """Apply snapshots forever, reconnecting with capped backoff."""

        async def once(backoff: Backoff) -> None:
            async for snapshot in self._stub.WatchProviderKeys(
                self._request, metadata=self._metadata
            ):
                self.apply(snapshot)
                backoff.reset()

        await follow_forever(
            "provider-key lease",
            once,
            expected=(grpc.aio.AioRpcError,),
            first_s=_FIRST_BACKOFF_S,
            max_s=_MAX_BACKOFF_S,
        )

    def apply(self, snapshot: kv_pb2.WatchProviderKeysResponse) -> None:
        self.index.apply(snapshot.keys, snapshot.version)
        self._first.set()

    async def wait_ready(self) -> bool:
        """Wait up to `lease_wait_s` for the first snapshot; False when it has not come
        (calls then use the environment's keys until it does)."""
        try:
            await asyncio.wait_for(self._first.wait(), self._settings.lease_wait_s)
        except TimeoutError:
            _log.warning(
                "no provider-key lease from the key vault at %s yet; using the "
                "environment's keys until it answers",
                self._settings.target,
            )
            return False
        _log.info("provider keys leased from the key vault at %s", self._settings.target)
        return True

    async def close(self) -> None:
        """Send what is still buffered (briefly), then close the channel if it is ours."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.reporter.flush(), _CLOSE_FLUSH_S)
        if self._owns_channel:
            await self._channel.close(None)

    async def _send(self, request: kv_pb2.ReportKeyOutcomesRequest) -> None:
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

        `credential_id`: "" is the provider's default pool, a key id is that key (whatever
        its state: ValidateProviderKey), any other text is the pool of keys with that
        label. Raises when the id names another provider's key, or (`required`) when
        every key of the pool is disabled."""
        index = self.index
        if credential_id:
            slot = index.slot(credential_id)
            if slot is not None:
                if slot.provider != provider:
                    raise credential_not_found(provider, credential_id)
                return slot.credential
        pool = index.pool(provider, credential_id)
        if not pool:
            return None
        chosen = index.choose(pool)
        if chosen is not None:
            return chosen.credential
        if required:
            raise no_usable_key(provider, credential_id, len(pool))
        return None

    # ---- outcomes ------------------------------------------------------------------------
    def succeeded(
        self,
        credential: Credential,
        rate_limits: Mapping[str, str],
        *,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
    ) -> None:
        self.reporter.add(
            Outcome(
                credential.key_id,
                200,
                time.time(),
                rate_limits=rate_limits,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
            )
        )

    def failed(
        self,
        provider: str,
        credential_id: str,
        credential: Credential,
        status: int,
        *,
        retry_after_s: float | None = None,
        may_retry: bool = False,
    ) -> Credential | None:
        """Report a call the upstream answered with HTTP `status` (0: the transport
        failed) and apply its consequence here; returns another key of the same pool to
        retry once with, after a 401/403 on a pooled key when `may_retry`."""
        key_id = credential.key_id
        retry_after = retry_after_s if status == _RATE_LIMITED else None
        if status in _REJECTED:
            self.index.disable(key_id)
        elif status == _RATE_LIMITED:
            pause = _DEFAULT_COOLDOWN_S if retry_after is None else retry_after
            self.index.cool(key_id, min(pause, _MAX_COOLDOWN_S))
        urgent = status in _REJECTED or status == _RATE_LIMITED
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
