"""The one inference pipeline behind both the REST surface and the typed gRPC API:
decide (registry + requirements) → attempts (balancing, retries, failover,
circuit breaking) → the provider service → usage accounted off the hot path.
A stream is retried or failed over only until its first byte reaches the client.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

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
    select,
)
from services.router.routing.retry import maybe_billed_failure
from services.router.streams import StreamOpened, attempt_headers, client_closed
from services.router.usage import Outcome, UsageSink, build_event, price_event, served_attempt

__all__ = ["Completed", "Inbound", "InferenceRequest", "Pipeline"]

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
                        headers=attempt_headers(plan, attempt),
                        native=reply.native,
                    )
        except GatewayError as error:
            outcome.error = error
            raise
        except asyncio.CancelledError:
            outcome.error = client_closed()
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
            outcome = Outcome(error=client_closed() if left else _internal())
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
