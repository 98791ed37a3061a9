"""The provider service's side of key custody: follow WatchProviderKeys (authorised by the
mesh service token), pick a key per upstream call, and report outcomes back.

    lease = ProviderKeyLease(channel, service_token=token, watcher=hostname)
    task = asyncio.create_task(lease.follow())          # reconnects by itself
    await lease.ready.wait()
    key = lease.pick("openai")                           # or lease.get(credential_id)
    ...                                                  # call upstream with key.secret
    lease.report(key.key_id, status, retry_after_s=..., headers=response_headers, ...)

Picking: active keys only; keys in a rotation overlap (retire_time set) only when no other
key can serve; then weighted at random by weight x headroom (the smaller of remaining/limit
for requests and tokens, from the latest headers, floor 5 %). A 401/403 or 429 reported here
takes the key out of this replica's rotation at once; the key vault then disables it or
cools it down for every replica. Secrets stay in memory: LeasedProviderKey reprs hide them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import grpc
from agentopia.v1 import keyvault_service_pb2 as kv_pb2
from agentopia.v1 import keyvault_service_pb2_grpc as kv_grpc

from keyvault.client.headroom import headroom_from_headers

__all__ = ["LeasedProviderKey", "ProviderKeyLease"]

_log = logging.getLogger(__name__)
_ACTIVE = kv_pb2.PROVIDER_KEY_STATE_ACTIVE
_FLOOR = 0.05
_DEFAULT_COOLDOWN_S = 30.0


@dataclass(frozen=True, slots=True)
class LeasedProviderKey:
    key_id: str
    provider: str
    secret: str = field(repr=False)
    weight: int = 1
    active: bool = True
    overlapping: bool = False  # in a rotation overlap: a fallback only


def _fraction(remaining: int, limit: int) -> float:
    return 1.0 if limit <= 0 else max(_FLOOR, min(1.0, remaining / limit))


def _headroom_factor(headroom: kv_pb2.RateLimitHeadroom, now: float) -> float:
    if not headroom.HasField("observe_time"):
        return 1.0
    if headroom.HasField("reset_time") and headroom.reset_time.ToNanoseconds() / 1e9 <= now:
        return 1.0  # the provider's window has reset since
    return min(
        _fraction(headroom.remaining_requests, headroom.limit_requests),
        _fraction(headroom.remaining_tokens, headroom.limit_tokens),
    )


class ProviderKeyLease:
    def __init__(
        self,
        channel: grpc.aio.Channel,
        *,
        service_token: str,
        watcher: str,
        providers: Sequence[str] = (),
        report_interval_s: float = 1.0,
    ) -> None:
        self._stub = kv_grpc.KeyVaultServiceStub(channel)
        self._metadata = (("authorization", f"Bearer {service_token}"),)
        self._request = kv_pb2.WatchProviderKeysRequest(watcher=watcher, providers=providers)
        self._keys: dict[str, LeasedProviderKey] = {}
        self._headroom: dict[str, kv_pb2.RateLimitHeadroom] = {}
        self._benched: dict[str, float] = {}  # key id -> monotonic time it may serve again
        self._pending: list[kv_pb2.KeyOutcome] = []
        self._urgent = asyncio.Event()
        self._interval = report_interval_s
        self.version = -1
        self.ready = asyncio.Event()

    # -- following the key vault ---------------------------------------------------
    def apply(self, snapshot: kv_pb2.WatchProviderKeysResponse) -> None:
        keys: dict[str, LeasedProviderKey] = {}
        for leased in snapshot.keys:
            key = leased.key
            keys[key.key_id] = LeasedProviderKey(
                key_id=key.key_id,
                provider=key.provider,
                secret=leased.secret,
                weight=key.weight,
                active=key.state == _ACTIVE,
                overlapping=key.HasField("retire_time"),
            )
            if key.health.headroom.HasField("observe_time") and key.key_id not in self._headroom:
                self._headroom[key.key_id] = key.health.headroom
        self._keys, self.version = keys, snapshot.version
        self._benched = {k: t for k, t in self._benched.items() if k in keys}
        self.ready.set()

    async def follow(self) -> None:
        """Apply snapshots and send reports forever, reconnecting with capped backoff."""
        reporter = asyncio.create_task(self._report_forever())
        delay = 0.1
        try:
            while True:
                try:
                    async for snapshot in self._stub.WatchProviderKeys(
                        self._request, metadata=self._metadata
                    ):
                        self.apply(snapshot)
                        delay = 0.1
                except grpc.aio.AioRpcError as error:
                    _log.warning("provider-key lease interrupted (%s)", error.code().name)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        finally:
            reporter.cancel()

    # -- choosing a key -------------------------------------------------------------
    def get(self, key_id: str) -> LeasedProviderKey | None:
        """A key by id (an explicit credential_id), whatever its state, unless retired."""
        return self._keys.get(key_id)

    def pick(self, provider: str) -> LeasedProviderKey | None:
        now, wall = time.monotonic(), time.time()
        usable = [
            k
            for k in self._keys.values()
            if k.provider == provider and k.active and self._benched.get(k.key_id, 0.0) <= now
        ]
        preferred = [k for k in usable if not k.overlapping] or usable
        weighted = [k for k in preferred if k.weight > 0] or preferred
        if not weighted:
            return None
        weights = [
            max(k.weight, 1) * _headroom_factor(self._headroom.get(k.key_id, _EMPTY), wall)
            for k in weighted
        ]
        return random.choices(weighted, weights=weights)[0]  # noqa: S311 - load spreading

    # -- reporting outcomes ------------------------------------------------------------
    def report(
        self,
        key_id: str,
        status: int,
        *,
        retry_after_s: float | None = None,
        headers: Mapping[str, str] | None = None,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        cost_usd: str = "",
    ) -> None:
        outcome = kv_pb2.KeyOutcome(
            key_id=key_id,
            status=status,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=cost_usd,
        )
        outcome.time.GetCurrentTime()
        headroom = headroom_from_headers(headers) if headers else None
        if headroom is not None:
            outcome.headroom.CopyFrom(headroom)
            self._headroom[key_id] = headroom
        if status in (401, 403):
            self._benched[key_id] = float("inf")
        elif status == 429:
            pause = retry_after_s if retry_after_s is not None else _DEFAULT_COOLDOWN_S
            self._benched[key_id] = time.monotonic() + pause
            outcome.retry_after.FromNanoseconds(int(pause * 1e9))
        self._pending.append(outcome)
        if status in (401, 403, 429):
            self._urgent.set()

    async def flush(self) -> None:
        batch, self._pending = self._pending, []
        if not batch:
            return
        try:
            await self._stub.ReportKeyOutcomes(
                kv_pb2.ReportKeyOutcomesRequest(outcomes=batch), metadata=self._metadata, timeout=10
            )
        except grpc.aio.AioRpcError as error:
            _log.warning("could not report %d key outcomes (%s)", len(batch), error.code().name)
            self._pending[:0] = batch[-1000:]  # keep the newest for the next attempt

    async def _report_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._urgent.wait(), self._interval)
            self._urgent.clear()
            await self.flush()


_EMPTY = kv_pb2.RateLimitHeadroom()
