"""The built-in `mock` provider: a real adapter that answers without any upstream.

Deterministic OpenAI-shaped replies (content.py, shapes.py), configurable
latency and pacing, and injected faults (settings.py, faults.py). It never
sleeps when a delay is 0.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import orjson

from services.provider import errors
from services.provider.adapters.base import (
    Call,
    Capability,
    CapabilityValue,
    Chunk,
    Operation,
    Result,
    StreamEnd,
    Timing,
)
from services.provider.adapters.mock import shapes
from services.provider.adapters.mock.content import Plan, RequestError, plan_chat, plan_completion
from services.provider.adapters.mock.embeddings import EmbeddingError, embeddings
from services.provider.adapters.mock.faults import (
    PROVIDER_NAME,
    FaultPlan,
    fault_error,
    midstream_error,
    request_error,
)
from services.provider.adapters.mock.settings import MockProfiles, MockSettings, SettingsError
from services.provider.redact import GENERIC_REDACTOR, Redactor
from services.provider.settings import DEFAULT_TIMEOUTS, Timeouts

__all__ = ["CAPABILITIES", "REQUEST_KEY", "MockAdapter"]

Json = dict[str, Any]
CAPABILITIES = frozenset(
    {
        Capability.CAPABILITY_CHAT,
        Capability.CAPABILITY_COMPLETIONS,
        Capability.CAPABILITY_STREAMING,
        Capability.CAPABILITY_TOOLS,
        Capability.CAPABILITY_PARALLEL_TOOLS,
        Capability.CAPABILITY_VISION,
        Capability.CAPABILITY_JSON_MODE,
        Capability.CAPABILITY_JSON_SCHEMA,
        Capability.CAPABILITY_MULTIPLE_CHOICES,
        Capability.CAPABILITY_EMBEDDINGS,
    }
)
# The request key holding per-request mock settings (ProviderSpec.request_key).
REQUEST_KEY = "mock"
_UNSALTED = ("stream", "stream_options", REQUEST_KEY)


async def _pause(milliseconds: float) -> None:
    if milliseconds > 0:
        await asyncio.sleep(milliseconds / 1000.0)


class MockAdapter:
    """Adapter protocol implementation for `mock/<name>` models."""

    def __init__(
        self,
        profiles: MockProfiles | None = None,
        *,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        redactor: Redactor = GENERIC_REDACTOR,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._profiles = profiles or MockProfiles.from_env({})
        self._timeouts = timeouts
        self._redactor = redactor
        self._clock = clock
        self._faults = FaultPlan()
        self._active_streams = 0

    @property
    def name(self) -> str:
        return PROVIDER_NAME

    @property
    def capabilities(self) -> frozenset[CapabilityValue]:
        return CAPABILITIES

    @property
    def active_streams(self) -> int:
        """Streams started and not yet finished or closed (for tests and demos)."""
        return self._active_streams

    def _prepare(self, call: Call) -> tuple[MockSettings, Plan, str]:
        model = call.upstream_model or str(call.body.get("model") or "")
        try:
            settings = self._profiles.resolve(model, call.extensions.get(REQUEST_KEY))
        except SettingsError as exc:
            raise request_error(str(exc), REQUEST_KEY) from None
        salted = {k: v for k, v in call.body.items() if k not in _UNSALTED}
        salt = hashlib.sha256(
            call.request_id.encode() + orjson.dumps(salted, option=orjson.OPT_SORT_KEYS)
        ).hexdigest()
        planner = plan_chat if call.operation is Operation.CHAT else plan_completion
        try:
            plan = planner(call.body, reply=settings.reply, salt=salt)
        except RequestError as exc:
            raise request_error(str(exc), exc.param) from None
        return settings, plan, model

    async def _fault_before_first_byte(self, model: str, settings: MockSettings) -> bool:
        """Raise the call's start-of-call fault, if one fires; True for a mid-stream fault."""
        if not self._faults.fires(model, settings):
            return False
        if settings.hang:
            await asyncio.sleep(self._timeouts.first_byte_s)
            raise errors.timeout_error(PROVIDER_NAME, "first_byte", self._timeouts.first_byte_s)
        if settings.fail_after_chunks >= 0:
            return True
        raise fault_error(settings.fault_status, settings.retry_after_s, self._redactor)

    async def generate(self, call: Call) -> Result:
        if call.operation is Operation.EMBEDDINGS:
            return self._embed(call)
        started = time.perf_counter()
        settings, plan, model = self._prepare(call)
        if await self._fault_before_first_byte(model, settings) and settings.fault_status:
            raise fault_error(settings.fault_status, settings.retry_after_s, self._redactor)
        await _pause(settings.latency_ms)
        created = int(self._clock())
        if call.operation is Operation.CHAT:
            body = shapes.chat_completion(plan, model=call.response_model, created=created)
        else:
            body = shapes.text_completion(plan, model=call.response_model, created=created)
        elapsed = (time.perf_counter() - started) * 1000.0
        return Result(body=body, usage=plan.usage, timing=Timing(elapsed, elapsed))

    def _embed(self, call: Call) -> Result:
        try:
            body, usage = embeddings(call.body, model=call.response_model)
        except EmbeddingError as exc:
            raise request_error(str(exc), exc.param) from None
        return Result(body=body, usage=usage)

    def _chunks(self, call: Call, plan: Plan, settings: MockSettings) -> Iterator[Json]:
        model, created = call.response_model, int(self._clock())
        include_usage = call.include_usage
        chat = call.operation is Operation.CHAT
        per_choice: list[list[Json]] = []
        for choice in plan.choices:
            if chat:
                per_choice.append(
                    [
                        shapes.chat_chunk(plan, model=model, created=created, index=choice.index,
                                          delta=delta, finish_reason=finish,
                                          include_usage=include_usage)
                        for delta, finish in shapes.chat_deltas(choice, settings.chunk_words)
                    ]
                )  # fmt: skip
            else:
                per_choice.append(
                    [
                        shapes.text_chunk(plan, model=model, created=created, index=choice.index,
                                          text=text, finish_reason=finish,
                                          include_usage=include_usage)
                        for text, finish in shapes.text_pieces(choice, settings.chunk_words)
                    ]
                )  # fmt: skip
        longest = max(len(chunks) for chunks in per_choice)
        for step in range(longest):  # n > 1: choices interleave by index
            for chunks in per_choice:
                if step < len(chunks):
                    yield chunks[step]
        if include_usage:
            yield shapes.usage_chunk(plan, model=model, created=created, chat=chat)

    async def stream(self, call: Call) -> AsyncIterator[Chunk | StreamEnd]:
        self._active_streams += 1
        try:
            started = time.perf_counter()
            settings, plan, model = self._prepare(call)
            break_after = -1
            if await self._fault_before_first_byte(model, settings):
                break_after = settings.fail_after_chunks
            await _pause(settings.latency_ms)
            first_byte_ms = (time.perf_counter() - started) * 1000.0
            sent = 0
            for body in self._chunks(call, plan, settings):
                if sent == break_after:
                    raise midstream_error(settings.fault_status, sent)
                if sent:
                    await _pause(settings.chunk_delay_ms)
                yield Chunk(body)
                sent += 1
            if break_after >= 0:
                raise midstream_error(settings.fault_status, sent)
            total_ms = (time.perf_counter() - started) * 1000.0
            yield StreamEnd(usage=plan.usage, timing=Timing(first_byte_ms, total_ms))
        finally:
            self._active_streams -= 1
