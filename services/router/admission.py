"""Client-key limits at admission: reserve (requests, estimated tokens and cost)
before the first provider call, settle with the true usage afterwards, release
when nothing was used. The limiter (keyvault.client.limits) is shared by every router
replica through Redis, so N replicas enforce one limit. The cost estimate reads
the same price table the usage is billed with (metrics.client.pricing)."""

from __future__ import annotations

import math

import grpc
from agentopia.v1 import chat_pb2

from keyvault.client.keycache import Principal
from keyvault.client.limits import Limiter, Reservation
from metrics.client.pricing import PriceTable
from services.kernel.errors import GatewayError
from services.router.routing import Decision, Model, estimate_usd

__all__ = ["Admission"]


class Admission:
    def __init__(self, limiter: Limiter, prices: PriceTable) -> None:
        self.limiter = limiter
        self.prices = prices

    async def admit(self, principal: Principal, decision: Decision) -> Reservation | None:
        """Hold the request's share of the key's limits; None when the key has none.

        Estimates are upper bounds (the prompt estimate never undercounts, the output
        is capped by max_tokens or the model's default, and a model costs what its
        dearest deployment bills), so the documented over-admission bound is zero."""
        limits = principal.limits
        if limits is None:
            return None
        profile = decision.profile
        # Every choice (`n`) is generated and billed: the output bound is per choice.
        outputs = [
            (profile.max_output_tokens or m.default_max_tokens) * profile.choices
            for m in decision.candidates
        ]
        tokens = profile.prompt_tokens + max(outputs)
        cost_micros = 0
        if limits.budget_micros is not None:
            for model, output in zip(decision.candidates, outputs, strict=True):
                cost_micros = max(
                    cost_micros, self._cost_micros(model, profile.prompt_tokens, output)
                )
        return await self.limiter.reserve(
            principal.key_id, limits, tokens=tokens, cost_micros=cost_micros
        )

    def _cost_micros(self, model: Model, prompt_tokens: int, output_tokens: int) -> int:
        routes = [(d.provider, d.upstream_id) for d in model.deployments]
        estimate = estimate_usd(self.prices, routes, prompt_tokens, output_tokens)
        if estimate is None:
            raise _unpriced(model.id)
        return math.ceil(estimate * 1_000_000)

    async def finish(
        self,
        reservation: Reservation,
        *,
        usage: chat_pb2.Usage | None,
        cost_micros: int | None,
        consumed: bool,
    ) -> None:
        """Settle with the billed usage; release when the upstream consumed nothing;
        settle at the estimate when it may have consumed something we cannot see
        (a stream cut short), never under-charging."""
        if usage is not None:
            cost = reservation.cost_micros if cost_micros is None else cost_micros
            tokens = usage.prompt_tokens + usage.completion_tokens
            await self.limiter.settle(reservation, tokens=tokens, cost_micros=cost)
        elif consumed:
            await self.limiter.settle(
                reservation, tokens=reservation.tokens, cost_micros=reservation.cost_micros
            )
        else:
            await self.limiter.release(reservation)


def _unpriced(model: str) -> GatewayError:
    return GatewayError(
        grpc.StatusCode.FAILED_PRECONDITION,
        "model_unpriced",
        f"This API key has a budget, and the model '{model}' has no price, so its spend "
        "cannot be enforced. Use a priced model or ask an admin to add a price.",
        param="model",
        http_status=400,
    )
