"""A stream once its first events have arrived: relaying the rest, batched as the
provider service's messages arrive (`Coalescer`), and the clean-up that runs exactly
once however the stream ends (`StreamOpened`). The pipeline opens streams (failover
happens before the first byte); what follows the first byte lives here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import grpc
from agentopia.v1 import provider_service_pb2 as pv_pb2

from keyvault.client.limits import Reservation
from services.kernel.errors import GatewayError
from services.router.routing import Attempt, Plan, route_headers
from services.router.usage import Outcome

if TYPE_CHECKING:  # the pipeline creates streams and accounts for them
    from services.router.pipeline import InferenceRequest, Pipeline

__all__ = ["Coalescer", "StreamOpened", "attempt_headers", "client_closed"]


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
        self.headers = attempt_headers(plan, attempt)
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
                self._outcome.error = client_closed()
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


def attempt_headers(plan: Plan, attempt: Attempt) -> dict[str, str]:
    return route_headers(
        plan.decision,
        model=attempt.response_model,
        deployment=attempt.deployment_id,
        retries=plan.retries,
        failovers=plan.failovers,
    )


def client_closed() -> GatewayError:
    """Accounting only: the caller went away before the response was complete."""
    return GatewayError(
        grpc.StatusCode.CANCELLED,
        "client_closed_request",
        "The client closed the request before the response was complete.",
        http_status=499,
    )
