"""One adapter call per invocation — plus, for a key leased from the key vault, its
outcome reported and one retry with another key of the same pool after a 401/403.

Adapter-agnostic: adapters raise canonical errors (errors.py), and the upstream status
they carry is all this needs. The retry lives here, not in the router, because only
this service knows the pool's other keys; it happens at most once and, for a stream,
only before anything was relayed (a 401 comes with the response headers, so in
practice always). After that the error goes back and the router fails over across
deployments as usual. Calls with the environment's key (or none) take the adapter's
path unchanged, at no extra cost.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator

from keyvault.client.provider_keys import ProviderKeyLease
from services.kernel.errors import GatewayError
from services.provider.adapters.base import Call, Chunk, Credential, Result, StreamEnd, Usage
from services.provider.errors import upstream_status
from services.provider.runtime import Provider

__all__ = ["close_stream", "generate", "stream"]


async def close_stream(items: AsyncIterator[Chunk | StreamEnd]) -> None:
    aclose = getattr(items, "aclose", None)
    if aclose is None:
        return
    # RuntimeError: it is running, and the cancellation inside it closes it.
    with contextlib.suppress(RuntimeError):
        await aclose()


def _succeeded(lease: ProviderKeyLease, credential: Credential, end: Result | StreamEnd) -> None:
    usage: Usage = end.usage
    lease.succeeded(
        credential,
        end.rate_limits,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
    )


def _failed(
    lease: ProviderKeyLease,
    provider: Provider,
    credential_id: str,
    credential: Credential,
    error: GatewayError,
    *,
    may_retry: bool,
) -> Credential | None:
    """Report the failure; another key to retry with, or None."""
    status = upstream_status(error)
    if status is None:
        return None  # the upstream never saw this key
    return lease.failed(
        provider.spec.name,
        credential_id,
        credential,
        status,
        retry_after_s=error.retry_after_s,
        may_retry=may_retry,
    )


def _lease_of(provider: Provider, call: Call) -> ProviderKeyLease | None:
    lease = provider.keys
    if lease is None or call.credential is None or not lease.owns(call.credential):
        return None
    return lease


async def generate(provider: Provider, call: Call, credential_id: str) -> Result:
    lease = _lease_of(provider, call)
    if lease is None or call.credential is None:
        return await provider.adapter.generate(call)
    credential, may_retry = call.credential, True
    while True:
        try:
            result = await provider.adapter.generate(call)
        except GatewayError as error:
            retry = _failed(lease, provider, credential_id, credential, error, may_retry=may_retry)
            if retry is None:
                raise
            credential, may_retry = retry, False
            call = dataclasses.replace(call, credential=retry)
            continue
        _succeeded(lease, credential, result)
        return result


def stream(provider: Provider, call: Call, credential_id: str) -> AsyncIterator[Chunk | StreamEnd]:
    lease = _lease_of(provider, call)
    if lease is None or call.credential is None:
        return provider.adapter.stream(call)
    return _reported_stream(provider, lease, call, call.credential, credential_id)


async def _reported_stream(
    provider: Provider,
    lease: ProviderKeyLease,
    call: Call,
    credential: Credential,
    credential_id: str,
) -> AsyncIterator[Chunk | StreamEnd]:
    may_retry, relayed = True, False
    items = provider.adapter.stream(call)
    try:
        while True:
            try:
                async for item in items:
                    if isinstance(item, StreamEnd):
                        _succeeded(lease, credential, item)
                    relayed = True
                    yield item
                return
            except GatewayError as error:
                retry = _failed(
                    lease,
                    provider,
                    credential_id,
                    credential,
                    error,
                    may_retry=may_retry and not relayed,
                )
                if retry is None:
                    raise
            await close_stream(items)
            credential, may_retry = retry, False
            items = provider.adapter.stream(dataclasses.replace(call, credential=retry))
    finally:
        await close_stream(items)
