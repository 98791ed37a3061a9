"""Checking a provider key against its provider. The key vault knows no provider: a
pluggable Validator does the call. The default one asks the provider service (which
holds the leased key) for a one-token completion with `credential_id` set to the key."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Protocol

import grpc
import orjson
from agentopia.v1 import provider_service_pb2 as pv_pb2
from agentopia.v1 import provider_service_pb2_grpc as pv_grpc

from keyvault.provider_keys.records import ProviderKeyRecord
from services.kernel.errors import GatewayError

__all__ = ["ProviderServiceValidator", "Validation", "Validator"]

_INVALID = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)


@dataclass(frozen=True, slots=True)
class Validation:
    # "valid", "invalid", "rate_limited" (the key works but is throttled), or "error"
    # (inconclusive: the provider or the mesh failed; the key's state is left alone).
    result: str
    upstream_status: int
    message: str


class Validator(Protocol):
    async def validate(self, key: ProviderKeyRecord, model: str) -> Validation: ...


def _upstream_status(error: GatewayError) -> int:
    try:
        return int(error.metadata.get("upstream_status", "0"))
    except ValueError:
        return 0


class ProviderServiceValidator:
    def __init__(self, channel: grpc.aio.Channel, *, timeout_s: float = 30.0) -> None:
        self._stub = pv_grpc.ProviderServiceStub(channel)
        self._timeout = timeout_s

    async def validate(self, key: ProviderKeyRecord, model: str) -> Validation:
        body = {"model": model, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 1}
        request = pv_pb2.GenerateRequest(
            invocation=pv_pb2.Invocation(
                operation=pv_pb2.OPERATION_CHAT_COMPLETIONS,
                request_json=orjson.dumps(body),
                provider=key.provider,
                upstream_model=model,
                response_model=model,
                request_id="validate-" + secrets.token_hex(6),
                credential_id=key.key_id,
            )
        )
        try:
            await self._stub.Generate(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as rpc_error:
            error = GatewayError.from_rpc_error(rpc_error)
            status = _upstream_status(error) or error.http_status
            if error.status in _INVALID or status in (401, 403):
                return Validation("invalid", status, "The provider rejected the key.")
            if error.status == grpc.StatusCode.RESOURCE_EXHAUSTED or status == 429:
                return Validation("rate_limited", status, "The key works but is rate limited.")
            return Validation("error", status, f"Inconclusive: {error.code} ({error.message})")
        return Validation("valid", 200, "The provider accepted the key.")
