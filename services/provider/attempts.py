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

from services.kernel.errors import GatewayError
from services.provider.adapters.base import Call, Chunk, Credential, Result, StreamEnd
from services.provider.keys import VaultKeys
from services.provider.runtime import Provider

__all__ = ["close_stream", "generate", "stream"]


async def close_stream(items: AsyncIterator[Chunk | StreamEnd]) -> None:
    aclose = getattr(items, "aclose", None)
    if aclose is None:
        return
    # RuntimeError: it is running, and the cancellation inside it closes it.
    with contextlib.suppress(RuntimeError):
        await aclose()


async def generate(provider: Provider, call: Call, credential_id: str) -> Result:
    keys = provider.keys
    if keys is None or call.credential is None or not keys.owns(call.credential):
        return await provider.adapter.generate(call)
    credential, may_retry = call.credential, True
    while True:
        try:
            result = await provider.adapter.generate(call)
        except GatewayError as error:
            retry = keys.failed(
                provider.spec.name, credential_id, credential, error, may_retry=may_retry
            )
            if retry is None:
                raise
            credential, may_retry = retry, False
            call = dataclasses.replace(call, credential=retry)
            continue
        keys.succeeded(credential, result.rate_limits, result.usage)
        return result


def stream(provider: Provider, call: Call, credential_id: str) -> AsyncIterator[Chunk | StreamEnd]:
    keys = provider.keys
    if keys is None or call.credential is None or not keys.owns(call.credential):
        return provider.adapter.stream(call)
    return _reported_stream(provider, keys, call, call.credential, credential_id)


async def _reported_stream(
    provider: Provider, keys: VaultKeys, call: Call, credential: Credential, credential_id: str
) -> AsyncIterator[Chunk | StreamEnd]:
    may_retry, relayed = True, False
    items = provider.adapter.stream(call)
    try:
        while True:
            try:
                async for item in items:
                    if isinstance(item, StreamEnd):
                        keys.succeeded(credential, item.rate_limits, item.usage)
                    relayed = True
                    yield item
                return
            except GatewayError as error:
                retry = keys.failed(
                    provider.spec.name,
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
