"""Per-client-key usage and spend, read live from the limiter's shared store (the
same counters the routers enforce against)."""

from __future__ import annotations

from agentopia.v1 import client_key_service_pb2 as ck_pb2

from keyvault import errors
from keyvault.client.limits import BudgetPeriod, Limiter, Limits
from keyvault.client.money import format_usd
from keyvault.client_keys.convert import PERIOD_TO_PROTO
from keyvault.client_keys.records import ClientKeyRecord
from keyvault.times import set_time

__all__ = ["ClientUsageReporter"]


class ClientUsageReporter:
    def __init__(self, limiter: Limiter | None) -> None:
        self._limiter = limiter

    @property
    def configured(self) -> bool:
        """Whether live counters can be read (a shared limits store is set)."""
        return self._limiter is not None

    async def report(self, record: ClientKeyRecord) -> ck_pb2.ClientKeyUsage:
        if self._limiter is None:
            raise errors.failed_precondition(
                "usage_store_not_configured",
                "Live key usage needs the shared limits store; set AGENTOPIA_LIMITS_REDIS_URL "
                "on the key vault (the same Redis the routers use).",
            )
        spec = record.spec
        period = spec.budget_period if spec.budget_period is not BudgetPeriod.NONE else None
        limits = Limits(
            rpm=spec.rpm_limit,
            tpm=spec.tpm_limit,
            budget_micros=spec.budget_micros,
            period=period or BudgetPeriod.MONTHLY,
        )
        usage = await self._limiter.usage(record.key_id, limits)
        message = ck_pb2.ClientKeyUsage(
            key_id=record.key_id,
            rpm_limit=spec.rpm_limit,
            requests_last_minute=usage.requests_in_window,
            tpm_limit=spec.tpm_limit,
            tokens_last_minute=usage.tokens_in_window,
            budget_usd="" if spec.budget_micros is None else format_usd(spec.budget_micros),
            budget_period=PERIOD_TO_PROTO[limits.period],
            spent_usd=format_usd(usage.spent_micros),
            reserved_usd=format_usd(usage.reserved_micros),
            requests_in_period=usage.requests_in_period,
            tokens_in_period=usage.tokens_in_period,
            in_flight=usage.in_flight,
        )
        set_time(message.period_start, usage.period_start)
        return message
