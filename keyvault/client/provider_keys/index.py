"""The provider keys this replica may use, indexed so that choosing one per call is two
passes over the pool's keys (O(keys)) that allocate nothing.

Built from each WatchProviderKeys snapshot (`apply`); read on every call (`choose`).
Pools — what `Invocation.credential_id` names (see `ProviderKeyLease.credential`):
- "": the provider's default pool, every leased key of that provider;
- a provider key id (`pkey_…`): exactly that key, whatever its state (ValidateProviderKey);
- anything else: the pool of that provider's keys whose label is exactly that text (a
  rotation keeps the label, so a pool keeps its keys across rotations). Pools select
  keys, they do not reserve them: labelled keys also serve the default pool.

Within a pool the first tier that has a key wins:
  0  active, weight > 0              1  active standby (weight 0)
  2  active in a rotation overlap    3  in an overlap and standby
  4  cooling down (a 429: the vault's COOLING_DOWN until `cooldown_until`, or benched on
     this replica until Retry-After) — a last resort: the key that recovers first serves
     rather than failing the call here. The vault's cool-down (30 s without Retry-After, up
     to 1 h) can outlast the provider's real window, a 429 costs no tokens, and it carries
     the provider's current Retry-After to the router, which backs off or fails over.
  never  disabled (by the vault, or a 401/403 seen on this replica).
Tiers 0-3 use smooth weighted round robin (nginx's) over weight x headroom, weight 0
counting as 1: exact proportions over any window, no random draw, no list built.
Headroom is the smaller of remaining/limit for requests and tokens from the latest
rate-limit headers (floor 5 %), until the provider's window resets (or for 60 s).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType

from agentopia.v1 import metrics_service_pb2 as m_pb2
from agentopia.v1 import provider_key_service_pb2 as kv_pb2

from keyvault.client.provider_keys.credential import Credential

__all__ = ["KeyIndex", "KeySlot", "headroom_factor"]

_ACTIVE = kv_pb2.PROVIDER_KEY_STATE_ACTIVE
_COOLING = kv_pb2.PROVIDER_KEY_STATE_COOLING_DOWN
_DISABLED = kv_pb2.PROVIDER_KEY_STATE_DISABLED
_COOLING_TIER = 4
_NONE = 5
_FLOOR = 0.05
_HEADROOM_TTL_S = 60.0
_EMPTY: tuple[KeySlot, ...] = ()


def _fraction(remaining: int, limit: int) -> float:
    return 1.0 if limit <= 0 else max(_FLOOR, min(1.0, remaining / limit))


def headroom_factor(headroom: kv_pb2.RateLimitHeadroom) -> float:
    """1.0 = all of the window left; never below 5 %, so a key is never starved."""
    return min(
        _fraction(headroom.remaining_requests, headroom.limit_requests),
        _fraction(headroom.remaining_tokens, headroom.limit_tokens),
    )


class KeySlot:
    """One leased key and what this replica knows about it (mutable, loop-confined).
    `tier` (0-3, or none) and `share` change only with a snapshot or a local 401/403;
    `cool_end` (monotonic) only with a snapshot or a local 429, so a choice reads them."""

    __slots__ = (
        "benched_until",
        "cool_end",
        "cool_until",
        "credential",
        "current",
        "disabled_here",
        "factor",
        "factor_until",
        "headroom_seen",
        "key_id",
        "label",
        "overlapping",
        "provider",
        "share",
        "state",
        "tier",
        "weight",
    )

    def __init__(self, credential: Credential, provider: str) -> None:
        self.credential = credential
        self.key_id = credential.key_id
        self.provider = provider
        self.label = ""
        self.weight = 1
        self.state = _ACTIVE
        self.overlapping = False
        self.cool_until = 0.0  # monotonic; the vault's cool-down
        self.benched_until = 0.0  # monotonic; a 429 seen here
        self.disabled_here = False  # a 401/403 seen here, until the vault disables the key
        self.factor = 1.0  # headroom
        self.factor_until = 0.0  # monotonic
        self.headroom_seen = 0.0  # wall time of the headroom's observation
        self.current = random.random()  # noqa: S311 - SWRR phase, so replicas do not march in step
        self.tier = 0
        self.share = 1
        self.cool_end = 0.0
        self.settle()

    def settle(self) -> None:
        """Recompute the derived fields after a change."""
        if self.disabled_here or self.state == _DISABLED:
            self.tier = _NONE
        else:
            self.tier = (2 if self.overlapping else 0) + (1 if self.weight <= 0 else 0)
        self.share = self.weight if self.weight > 0 else 1
        vault_cool = self.cool_until if self.state == _COOLING else 0.0
        self.cool_end = max(self.benched_until, vault_cool)


class KeyIndex:
    """Snapshot in, one key per call out. Single event loop: no locks."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self._wall = wall
        self._slots: dict[str, KeySlot] = {}
        self._pools: Mapping[tuple[str, str], tuple[KeySlot, ...]] = MappingProxyType({})
        self.version = -1

    # ---- snapshots -------------------------------------------------------------------
    def apply(self, leased: Iterable[kv_pb2.LeasedProviderKey], version: int) -> None:
        """Replace the key set; what this replica learned about surviving keys is kept."""
        now, wall = self._clock(), self._wall()
        slots: dict[str, KeySlot] = {}
        pools: dict[tuple[str, str], list[KeySlot]] = {}
        for item in leased:
            key = item.key
            slot = self._slots.get(key.key_id)
            if slot is None or slot.credential.secret != item.secret:
                slot = KeySlot(Credential(key.key_id, item.secret), key.provider)
                previous = self._slots.get(key.key_id)
                if previous is not None:
                    slot.current = previous.current
            _refresh(slot, key, now, wall)
            slots[key.key_id] = slot
            pools.setdefault((key.provider, ""), []).append(slot)
            if key.label:
                pools.setdefault((key.provider, key.label), []).append(slot)
        self._slots = slots
        self._pools = MappingProxyType({name: tuple(group) for name, group in pools.items()})
        self.version = version

    # ---- lookups -------------------------------------------------------------------------
    def slot(self, key_id: str) -> KeySlot | None:
        return self._slots.get(key_id)

    def pool(self, provider: str, name: str) -> tuple[KeySlot, ...]:
        return self._pools.get((provider, name), _EMPTY)

    def has_keys(self, provider: str) -> bool:
        return (provider, "") in self._pools

    def choose(self, pool: tuple[KeySlot, ...], *, avoid: str = "") -> KeySlot | None:
        """The key for the next call, or None when every key is disabled (or `avoid`)."""
        now = self._clock()
        best = _NONE
        for slot in pool:  # the best tier present
            tier = slot.tier
            if tier < best:
                if slot.cool_end > now:
                    tier = _COOLING_TIER
                if tier < best and slot.key_id != avoid:
                    best = tier
        if best >= _COOLING_TIER:
            return None if best == _NONE else _first_to_recover(pool, now, avoid)
        chosen: KeySlot | None = None
        top = total = 0.0
        for slot in pool:  # smooth weighted round robin within it
            if slot.tier != best or slot.cool_end > now or slot.key_id == avoid:
                continue
            weight = slot.share * (slot.factor if slot.factor_until > now else 1.0)
            current = slot.current + weight
            slot.current = current
            total += weight
            if chosen is None or current > top:
                chosen, top = slot, current
        if chosen is not None:
            chosen.current -= total
        return chosen

    def health(self) -> list[tuple[str, str, int]]:
        """(provider, key id, KeyHealth) per key as this replica will treat it now:
        failing when disabled, cooling down while benched, else healthy."""
        now = self._clock()
        rows: list[tuple[str, str, int]] = []
        for slot in self._slots.values():
            if slot.disabled_here or slot.state == _DISABLED:
                value = m_pb2.KEY_HEALTH_FAILING
            elif slot.cool_end > now:
                value = m_pb2.KEY_HEALTH_COOLING_DOWN
            else:
                value = m_pb2.KEY_HEALTH_HEALTHY
            rows.append((slot.provider, slot.key_id, value))
        return rows

    # ---- what this replica saw ---------------------------------------------------------
    def disable(self, key_id: str) -> None:
        """A 401/403: never chosen again here, until the vault's snapshot disables it too
        (after which the vault's state rules: an admin may re-enable it)."""
        slot = self._slots.get(key_id)
        if slot is not None:
            slot.disabled_here = True
            slot.settle()

    def cool(self, key_id: str, seconds: float) -> None:
        """A 429: a last resort only, for `seconds` (the upstream's Retry-After)."""
        slot = self._slots.get(key_id)
        if slot is not None:
            slot.benched_until = max(slot.benched_until, self._clock() + seconds)
            slot.settle()

    def observe_headroom(self, key_id: str, headroom: kv_pb2.RateLimitHeadroom) -> None:
        slot = self._slots.get(key_id)
        if slot is not None:
            _set_headroom(slot, headroom, self._clock(), self._wall())


def _first_to_recover(pool: tuple[KeySlot, ...], now: float, avoid: str) -> KeySlot | None:
    chosen: KeySlot | None = None
    for slot in pool:
        if slot.tier == _NONE or slot.cool_end <= now or slot.key_id == avoid:
            continue
        if chosen is None or slot.cool_end < chosen.cool_end:
            chosen = slot
    return chosen


def _refresh(slot: KeySlot, key: kv_pb2.ProviderKey, now: float, wall: float) -> None:
    slot.label, slot.weight, slot.state = key.label, key.weight, key.state
    slot.overlapping = key.HasField("retire_time")
    if key.state == _DISABLED:
        slot.disabled_here = False  # the vault has taken over
    health = key.health
    if key.state == _COOLING:
        if health.HasField("cooldown_until"):
            ends = health.cooldown_until.ToNanoseconds() / 1e9
            slot.cool_until = now + max(0.0, ends - wall)
        else:
            slot.cool_until = math.inf
    if health.headroom.HasField("observe_time"):
        _set_headroom(slot, health.headroom, now, wall)
    slot.settle()


def _set_headroom(
    slot: KeySlot, headroom: kv_pb2.RateLimitHeadroom, now: float, wall: float
) -> None:
    seen = wall
    if headroom.HasField("observe_time"):
        seen = headroom.observe_time.ToNanoseconds() / 1e9
    if seen < slot.headroom_seen:
        return  # an older observation (e.g. another replica's, relayed by the vault)
    slot.headroom_seen = seen
    slot.factor = headroom_factor(headroom)
    if headroom.HasField("reset_time"):
        slot.factor_until = now + max(0.0, headroom.reset_time.ToNanoseconds() / 1e9 - wall)
    else:
        slot.factor_until = now + _HEADROOM_TTL_S
