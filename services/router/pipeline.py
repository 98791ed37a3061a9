"""The one inference pipeline behind both the REST surface and the typed gRPC API:
decide (registry + requirements) → attempts (balancing, retries, failover,
circuit breaking) → the provider service → usage accounted off the hot path.
A stream is retried or failed over only until its first byte reaches the client.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
from agentopia.v1 import chat_pb2, metrics_service_pb2
from agentopia.v1 import provider_service_pb2 as pv_pb2
from agentopia.v1 import provider_service_pb2_grpc as pv_grpc
from opentelemetry import trace

from keyvault.client.keycache import Principal, require_inference
from keyvault.client.limits import Reservation
from keyvault.client.parameters import require_parameters
from metrics.client.pricing import PriceTable, default_table
from services.kernel.errors import GatewayError
from services.kernel.semconv import genai_span_attributes
from services.router.admission import Admission
from services.router.body import CHAT, ParsedBody
from services.router.routing import (
    Attempt,
    Decision,
    Plan,
    Planner,
    RegistryHolder,
    RoutingState,
    parse_requirements,
    profile_request,
    route_headers,
    select,
)
from services.router.routing.retry import maybe_billed_failure
from services.router.usage import Outcome, UsageSink, build_event, price_event, served_attempt

__all__ = ["Completed", "Inbound", "InferenceRequest", "Pipeline", "StreamOpened"]

_log = logging.getLogger(__name__)

_OPERATIONS = {
    CHAT: pv_pb2.OPERATION_CHAT_COMPLETIONS,
    "completions": pv_pb2.OPERATION_COMPLETIONS,
    "embeddings": pv_pb2.OPERATION_EMBEDDINGS,
}


@dataclass(frozen=True, slots=True)
class Inbound:
    """A request that arrived in a client format other than the unified one
    (docs/surfaces.md): its own body, for a backend that takes that format as is,
    beside the unified translation in `InferenceRequest.raw`."""

    format: pv_pb2.InboundFormat.ValueType
    raw: bytes
    untranslatable: tuple[str, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class InferenceRequest:
    parsed: ParsedBody
    raw: bytes  # the body forwarded to the provider service, as received
    principal: Principal
    request_id: str
    deadline_s: float | None  # seconds left on the caller's deadline
    requirements_header: str | None = None
    started: float = field(default_factory=time.perf_counter)
    surface: str = ""  # the usage event's `surface`
    inbound: Inbound | None = None


@dataclass(frozen=True, slots=True)
class Completed:
    body: bytes
    headers: dict[str, str]
    native: bool = False  # the body is in the request's inbound format


class Coalescer:
    """Reads a provider stream in its own task while the caller writes to the client,
    and hands over everything that arrived during a write as one batch: under load
    the hop to the edge pays its per-message cost once per batch, and a message that
    is ready is never held back."""

    def __init__(self, call: Any) -> None:
        self._call = call
        self._buffer: list[pv_pb2.StreamGenerateResponse] = []
        self._ready = asyncio.Event()
        self._failure: BaseException | None = None
        self._ended = False
        self._task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        try:
            while True:
                message = await self._call.read()
                if not isinstance(message, pv_pb2.StreamGenerateResponse):
                    return
                self._buffer.append(message)
                self._ready.set()
        except grpc.aio.AioRpcError as failure:
            self._failure = failure
        finally:
            self._ended = True
            self._ready.set()

    async def take(self) -> list[pv_pb2.StreamGenerateResponse]:
        """What has arrived (waiting for something); empty once the stream is over."""
        await self._ready.wait()
        batch, self._buffer = self._buffer, []
        if not self._ended:
            self._ready.clear()
        elif not batch and self._failure is not None:
            raise self._failure
        return batch

    async def finished(self) -> None:
        """Wait for the call's status after the last message."""
        await self._task
        if self._failure is not None:
            raise self._failure

    def close(self) -> None:
        self._task.cancel()


class StreamOpened:
    """A stream whose first events have arrived; iterate `rest()` for the others.

    Events are chunks in the client's wire format, framed as SSE (`data: <json>\n\n`),
    as many per message as the provider service had at hand: they are relayed as
    they come, never split or re-framed. `first_is_last` says that the first
    message already ended the stream (everything arrived at once).

    Whoever opened it ties it to the RPC with `close_when_done(context)`: a client
    that leaves before `rest()` starts, or while the servicer's generator is
    suspended between messages, must still end the upstream call, release the
    balancer lease and any half-open probe slot, and have its usage accounted and its
    reservation settled — when the RPC ends, not whenever the abandoned generator is
    garbage-collected (a traceback cycle can keep it alive indefinitely). Clean-up
    runs exactly once, from `rest()` or from `close()`, whichever comes first."""

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        request: InferenceRequest,
        plan: Plan,
        attempt: Attempt,
        call: grpc.aio.UnaryStreamCall[pv_pb2.StreamGenerateRequest, pv_pb2.StreamGenerateResponse],
        first: pv_pb2.StreamGenerateResponse,
        reservation: Reservation | None,
    ) -> None:
        self._reservation = reservation
        self._pipeline = pipeline
        self._request = request
        self._plan = plan
        self._attempt = attempt
        self._call = call
        self._first = first
        self.first = first.events
        self.first_is_last = first.HasField("usage")
        self.native = first.native  # the events are in the request's inbound format
        self.first_at = time.perf_counter()
        self.headers = _headers(plan, attempt)
        self._outcome = Outcome(first_token_at=self.first_at)
        self._reader: Coalescer | None = None
        self._finished = False

    def close_when_done(self, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        # grpc-stubs types the callback as a class, not as the callable grpc takes.
        context.add_done_callback(lambda _context: self.close())  # type: ignore[arg-type]

    def close(self) -> None:
        """End the stream now if `rest()` has not (the client left early)."""
        if not self._finished:
            if self._outcome.error is None and self._outcome.usage is None:
                self._outcome.error = _client_closed()
            self._finish()

    def _finish(self) -> None:
        if self._finished:
            return
        self._finished = True
        if self._reader is not None:
            self._reader.close()
        self._call.cancel()
        self._plan.close()
        # Something was streamed: the upstream consumed tokens even if cut short.
        self._pipeline.account(
            self._request, self._plan, self._outcome, self._reservation, consumed=True
        )

    async def rest(self) -> AsyncIterator[tuple[bytes, bool]]:
        """`(events, last)` for each further message; `last` is true once, at the end."""
        outcome = self._outcome
        reader = self._reader = Coalescer(self._call) if not self.first_is_last else None
        try:
            final = self._first if self.first_is_last else None
            while reader is not None and final is None:
                batch = await reader.take()
                if not batch:
                    break  # ended without accounting: the provider service never does that
                last = batch[-1].HasField("usage")
                if last:
                    final = batch[-1]
                events = b"".join(message.events for message in batch)
                if events or last:
                    yield events, last
            if final is not None:
                outcome.usage, outcome.timing = final.usage, final.timing
                if reader is None:
                    await self._call.read()  # the status: the call ends cleanly, not cancelled
                else:
                    await reader.finished()
            self._attempt.succeed()
        except grpc.aio.AioRpcError as rpc_error:
            outcome.error = GatewayError.from_rpc_error(rpc_error)
            self._attempt.fail(outcome.error)
            raise outcome.error from None
        finally:
            self._finish()


class Pipeline:
    def __init__(
        self,
        *,
        provider: pv_grpc.ProviderServiceAsyncStub,
        registry: RegistryHolder,
        state: RoutingState,
        planner: Planner,
        usage: UsageSink,
        admission: Admission | None = None,
        prices: PriceTable | None = None,
    ) -> None:
        self._prices = prices or default_table()
        self._provider = provider
        self._registry = registry
        self._state = state
        self._planner = planner
        self._usage = usage
        self._admission = admission
        self._settling: set[asyncio.Task[None]] = set()

    def decide(self, request: InferenceRequest) -> Decision:
        # Every inference surface comes through here: the role and parameter checks
        # live once, before anything is admitted or sent.
        require_inference(request.principal)
        body = request.parsed.body
        require_parameters(body, request.principal.allowed_parameters)
        return select(
            self._registry.current,
            request.parsed.model,
            parse_requirements(body, header=request.requirements_header),
            profile_request(body, operation=request.parsed.operation),
            scopes=request.principal.allowed_models,
            health=self._state,
        )

    async def _admit(self, request: InferenceRequest, decision: Decision) -> Reservation | None:
        if self._admission is None:
            return None
        try:
            return await self._admission.admit(request.principal, decision)
        except GatewayError as error:
            self.account(request, None, Outcome(error=error), None, consumed=False)
            raise

    async def complete(self, request: InferenceRequest) -> Completed:
        decision = self.decide(request)
        reservation = await self._admit(request, decision)
        plan = self._planner.attempts(decision, deadline_s=request.deadline_s)
        outcome = Outcome()
        # Whether an upstream may have done (and billed) work we never saw: a call the
        # client abandoned while it was in flight, or one that timed out or lost its
        # connection after the request was sent. Such a request settles at its
        # estimate, never at zero.
        maybe_billed = in_flight = False
        try:
            async with plan:
                async for attempt in plan:
                    in_flight = True
                    try:
                        reply = await self._provider.Generate(
                            pv_pb2.GenerateRequest(invocation=self._invocation(request, attempt)),
                            timeout=attempt.grpc_timeout_s,
                        )
                    except grpc.aio.AioRpcError as rpc_error:
                        in_flight = False
                        failure = GatewayError.from_rpc_error(rpc_error)
                        maybe_billed = maybe_billed or maybe_billed_failure(failure)
                        attempt.fail(failure)
                        continue
                    attempt.succeed()
                    outcome.usage, outcome.timing = reply.usage, reply.timing
                    return Completed(
                        body=reply.response_json,
                        headers=_headers(plan, attempt),
                        native=reply.native,
                    )
        except GatewayError as error:
            outcome.error = error
            raise
        except asyncio.CancelledError:
            outcome.error = _client_closed()
            raise
        finally:
            consumed = outcome.usage is not None or maybe_billed or in_flight
            self.account(request, plan, outcome, reservation, consumed=consumed)
        raise AssertionError("unreachable: the plan raises when it runs out")  # pragma: no cover

    async def open_stream(self, request: InferenceRequest) -> StreamOpened:
        """Attempts until one produces its first chunk; failures before that fail over."""
        decision = self.decide(request)
        reservation = await self._admit(request, decision)
        plan = self._planner.attempts(decision, deadline_s=request.deadline_s, stream=True)
        try:
            async for attempt in plan:
                call = self._provider.StreamGenerate(
                    pv_pb2.StreamGenerateRequest(invocation=self._invocation(request, attempt)),
                    timeout=attempt.grpc_timeout_s,
                )
                try:
                    # The first byte is awaited here too, so that the deployment's
                    # first-byte limit holds for every provider, HTTP or not.
                    async with asyncio.timeout(attempt.first_byte_timeout_s):
                        first = await call.read()
                except grpc.aio.AioRpcError as rpc_error:
                    attempt.fail(GatewayError.from_rpc_error(rpc_error))
                    continue
                except TimeoutError:
                    call.cancel()
                    attempt.fail(_first_byte_timeout(attempt))
                    continue
                except BaseException:
                    call.cancel()  # the client left before the first byte, or a bug
                    raise
                if not isinstance(first, pv_pb2.StreamGenerateResponse) or not first.events:
                    call.cancel()
                    attempt.fail(_empty_stream())
                    continue
                attempt.first_byte()
                return StreamOpened(
                    self,
                    request=request,
                    plan=plan,
                    attempt=attempt,
                    call=call,
                    first=first,
                    reservation=reservation,
                )
        except GatewayError as error:
            plan.close()
            self.account(request, plan, Outcome(error=error), reservation, consumed=False)
            raise
        except BaseException as failure:  # the client left, or a bug: release all the same
            plan.close()  # releases the attempt's balancer lease and breaker slot
            left = isinstance(failure, asyncio.CancelledError)
            outcome = Outcome(error=_client_closed() if left else _internal())
            self.account(request, plan, outcome, reservation, consumed=False)
            raise
        raise AssertionError("unreachable: the plan raises when it runs out")  # pragma: no cover

    def account(
        self,
        request: InferenceRequest,
        plan: Plan | None,
        outcome: Outcome,
        reservation: Reservation | None,
        *,
        consumed: bool,
    ) -> None:
        """Describe the request on its span now; price, record and settle after the
        response has been handed to gRPC, off the request's latency."""
        try:
            event = build_event(request, plan, outcome)
            served = served_attempt(plan)
            upstream = "" if served is None else served.upstream_model
            span = trace.get_current_span()
            if span.is_recording():
                span.set_attributes(genai_span_attributes(event))
            if reservation is None:
                asyncio.get_running_loop().call_soon(self._record, event, upstream)
                return
            task = asyncio.get_running_loop().create_task(
                self._record_and_settle(
                    event, upstream, reservation, outcome.usage, consumed=consumed
                )
            )
            self._settling.add(task)
            task.add_done_callback(self._settling.discard)
        except Exception:  # accounting must never fail a request
            _log.exception("usage event dropped", extra={"request_id": request.request_id})

    def _record(self, event: metrics_service_pb2.UsageEvent, upstream: str) -> int | None:
        cost_micros = price_event(event, self._prices, upstream_model=upstream)
        self._usage.record(event)
        return cost_micros

    async def _record_and_settle(
        self,
        event: metrics_service_pb2.UsageEvent,
        upstream: str,
        reservation: Reservation,
        usage: chat_pb2.Usage | None,
        *,
        consumed: bool,
    ) -> None:
        cost_micros = self._record(event, upstream)
        assert self._admission is not None
        await self._admission.finish(
            reservation, usage=usage, cost_micros=cost_micros, consumed=consumed
        )

    async def drain(self) -> None:
        """Wait for pending settlements (graceful shutdown)."""
        if self._settling:
            await asyncio.gather(*self._settling, return_exceptions=True)

    async def count_tokens(self, request: InferenceRequest) -> int | None:
        """The inbound request's input tokens as the chosen backend counts them, or
        None when it has no counter (the caller estimates). Routed like inference —
        keys, allowed models, aliases, failover — but not metered: counting is free."""
        decision = self.decide(request)
        plan = self._planner.attempts(decision, deadline_s=request.deadline_s)
        async with plan:
            async for attempt in plan:
                try:
                    reply = await self._provider.CountTokens(
                        pv_pb2.CountTokensRequest(invocation=self._invocation(request, attempt)),
                        timeout=attempt.grpc_timeout_s,
                    )
                except grpc.aio.AioRpcError as rpc_error:
                    attempt.fail(GatewayError.from_rpc_error(rpc_error))
                    continue
                attempt.succeed()
                return reply.input_tokens if reply.HasField("input_tokens") else None
        raise AssertionError("unreachable: the plan raises when it runs out")  # pragma: no cover

    def _invocation(self, request: InferenceRequest, attempt: Attempt) -> pv_pb2.Invocation:
        invocation = pv_pb2.Invocation(
            operation=_OPERATIONS[request.parsed.operation],
            request_json=request.raw,
            provider=attempt.provider,
            upstream_model=attempt.upstream_model,
            response_model=attempt.response_model,
            deployment_id=attempt.deployment_id,
            default_max_tokens=attempt.default_max_tokens,
            request_id=request.request_id,
            credential_id=attempt.credential_id,
            first_byte_timeout_s=attempt.first_byte_timeout_s,
            total_timeout_s=attempt.timeout_s,
        )
        inbound = request.inbound
        if inbound is not None:  # another client format: its own body rides along
            invocation.inbound_format = inbound.format
            invocation.inbound_json = inbound.raw
            invocation.untranslatable.extend(inbound.untranslatable)
            invocation.inbound_headers.update(inbound.headers)
        return invocation


def _headers(plan: Plan, attempt: Attempt) -> dict[str, str]:
    return route_headers(
        plan.decision,
        model=attempt.response_model,
        deployment=attempt.deployment_id,
        retries=plan.retries,
        failovers=plan.failovers,
    )


def _client_closed() -> GatewayError:
    """Accounting only: the caller went away before the response was complete."""
    return GatewayError(
        grpc.StatusCode.CANCELLED,
        "client_closed_request",
        "The client closed the request before the response was complete.",
        http_status=499,
    )


def _first_byte_timeout(attempt: Attempt) -> GatewayError:
    return GatewayError(
        grpc.StatusCode.DEADLINE_EXCEEDED,
        "upstream_timeout",
        f"{attempt.provider} did not answer in time (first byte limit "
        f"{attempt.first_byte_timeout_s:g}s). Retry the request.",
        http_status=504,
        retryable=True,
        metadata={"provider": attempt.provider, "phase": "first_byte"},
    )


def _internal() -> GatewayError:
    """Accounting only: the gateway failed (the client gets the interceptor's answer)."""
    return GatewayError(grpc.StatusCode.INTERNAL, "internal_error", "The gateway failed.")


def _empty_stream() -> GatewayError:
    return GatewayError(
        grpc.StatusCode.UNAVAILABLE,
        "empty_stream",
        "The provider ended the stream before sending anything.",
        retryable=True,
    )
