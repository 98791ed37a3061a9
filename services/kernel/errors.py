"""The canonical error of the mesh, and its one conversion to and from gRPC.

Every failure a service raises is a `GatewayError`. On the wire it becomes a
`google.rpc.Status` (AIP-193) carried in `grpc-status-details-bin`, holding an
`ErrorInfo{reason, domain, metadata}` and, when a retry delay is known, a
`RetryInfo`. The receiving hop rebuilds the same `GatewayError` from it, so an
upstream 429's `Retry-After` or a provider's error type survives every hop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

import grpc
from google.protobuf import duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

__all__ = [
    "DETAILS_KEY",
    "DOMAIN",
    "MAX_FIELD_CHARS",
    "MAX_MESSAGE_CHARS",
    "GatewayError",
    "http_status_for",
]

DOMAIN = "agentopia.dev"
DETAILS_KEY = "grpc-status-details-bin"

# The HTTP status Envoy's transcoder gives each gRPC code; the edge may refine
# it from the error's own http_status (e.g. 413, 502).
_HTTP_BY_CODE: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}
_CODE_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}

# OpenAI's error `type` by HTTP status, for errors that do not set their own.
_OPENAI_TYPE_BY_HTTP = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def http_status_for(code: grpc.StatusCode) -> int:
    return _HTTP_BY_CODE.get(code, 500)


MAX_MESSAGE_CHARS = 1024
MAX_FIELD_CHARS = 512


def clip(text: str, limit: int) -> str:
    """`text`, cut to `limit` characters with an ellipsis when longer."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(eq=False)
class GatewayError(Exception):
    """A failure with a stable code, a message that says what to do, and its status.

    `code` is the stable, lower-snake error code clients see (`model_not_found`);
    `reason` in ErrorInfo is the same in upper case.
    """

    status: grpc.StatusCode
    code: str
    message: str
    http_status: int = 0
    type: str = ""
    param: str | None = None
    retryable: bool = False
    retry_after_s: float | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Messages, params and metadata may quote what a client sent (a model name, a
        # field name); they travel in gRPC trailers and HTTP headers, so they are
        # clipped here, once for every error, below any proxy's header limits.
        self.message = clip(self.message, MAX_MESSAGE_CHARS)
        if self.param is not None:
            self.param = clip(self.param, MAX_FIELD_CHARS)
        if any(len(value) > MAX_FIELD_CHARS for value in self.metadata.values()):
            self.metadata = {key: clip(v, MAX_FIELD_CHARS) for key, v in self.metadata.items()}
        super().__init__(self.message)
        if not self.http_status:
            self.http_status = http_status_for(self.status)
        if not self.type:
            self.type = _OPENAI_TYPE_BY_HTTP.get(
                self.http_status, "server_error" if self.http_status >= 500 else "api_error"
            )

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def to_status_proto(self) -> status_pb2.Status:
        info = error_details_pb2.ErrorInfo(reason=self.code.upper(), domain=DOMAIN)
        info.metadata.update(self.metadata)
        info.metadata["http_status"] = str(self.http_status)
        info.metadata["type"] = self.type
        info.metadata["retryable"] = "true" if self.retryable else "false"
        if self.param is not None:
            info.metadata["param"] = self.param
        status = status_pb2.Status(code=self.status.value[0], message=self.message)
        status.details.add().Pack(info)
        if self.retry_after_s is not None:
            delay = duration_pb2.Duration()
            delay.FromNanoseconds(int(self.retry_after_s * 1e9))
            status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=delay))
        return status

    def trailing_metadata(self) -> tuple[tuple[str, str | bytes], ...]:
        return ((DETAILS_KEY, self.to_status_proto().SerializeToString()),)

    async def abort(self, context: grpc.aio.ServicerContext[object, object]) -> NoReturn:
        """End the current RPC with this error (aio servicers only)."""
        await context.abort(self.status, self.message, self.trailing_metadata())
        raise AssertionError("unreachable: context.abort raises")  # pragma: no cover

    @classmethod
    def from_status_proto(cls, status: status_pb2.Status) -> GatewayError:
        grpc_code = _CODE_BY_NUMBER.get(status.code, grpc.StatusCode.UNKNOWN)
        info = error_details_pb2.ErrorInfo()
        retry_after: float | None = None
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                detail.Unpack(info)
            elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                retry = error_details_pb2.RetryInfo()
                detail.Unpack(retry)
                retry_after = retry.retry_delay.ToNanoseconds() / 1e9
        meta = dict(info.metadata)
        http_status = int(meta.pop("http_status", "0") or 0)
        return cls(
            status=grpc_code,
            code=(info.reason or _fallback_code(grpc_code)).lower(),
            message=status.message,
            http_status=http_status,
            type=meta.pop("type", ""),
            param=meta.pop("param", None),
            retryable=meta.pop("retryable", "false") == "true",
            retry_after_s=retry_after,
            metadata=meta,
        )

    @classmethod
    def from_rpc_error(cls, error: grpc.aio.AioRpcError) -> GatewayError:
        """Rebuild the error a downstream service raised, or describe a transport failure."""
        trailing: Any = error.trailing_metadata() or ()
        for key, value in trailing:
            if key == DETAILS_KEY and isinstance(value, bytes):
                return cls.from_status_proto(status_pb2.Status.FromString(value))
        code = error.code()
        retryable = code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
        return cls(
            status=code,
            code=_fallback_code(code),
            message=error.details() or code.name.lower(),
            retryable=retryable,
        )


def _fallback_code(code: grpc.StatusCode) -> str:
    if code == grpc.StatusCode.UNAVAILABLE:
        return "service_unavailable"
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return "timeout"
    name: str = code_pb2.Code.Name(code.value[0])
    return name.lower()
