"""An in-process fake of the Secret Manager gRPC API (the subset the key vault uses:
CreateSecret, AddSecretVersion, AccessSecretVersion with "latest", DestroySecretVersion),
served by grpc.aio so the real client library can talk to it."""

from __future__ import annotations

from typing import Any

import grpc
from google.cloud.secretmanager_v1 import types

__all__ = ["FakeSecretManager"]

_SERVICE = "google.cloud.secretmanager.v1.SecretManagerService"


class FakeSecretManager:
    def __init__(self) -> None:
        self.versions: dict[str, list[bytes | None]] = {}  # secret name -> payloads
        self.access_log: list[str] = []
        self.server: grpc.aio.Server | None = None
        self.endpoint = ""

    # -- helpers for tests ---------------------------------------------------------
    def add_version(self, secret: str, payload: bytes) -> str:
        versions = self.versions.setdefault(secret, [])
        versions.append(payload)
        return f"{secret}/versions/{len(versions)}"

    # -- RPCs ------------------------------------------------------------------------
    async def _create_secret(
        self, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> Any:
        name = f"{request.parent}/secrets/{request.secret_id}"
        if name in self.versions:
            await context.abort(grpc.StatusCode.ALREADY_EXISTS, f"Secret [{name}] already exists.")
        self.versions[name] = []
        return types.Secret(name=name)

    async def _add_version(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        if request.parent not in self.versions:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"Secret [{request.parent}] not found.")
        name = self.add_version(request.parent, bytes(request.payload.data))
        return types.SecretVersion(name=name, state=types.SecretVersion.State.ENABLED)

    async def _access(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        self.access_log.append(request.name)
        secret, _, version = request.name.rpartition("/versions/")
        payloads = self.versions.get(secret)
        if not payloads:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"Secret [{secret}] not found.")
        index = len(payloads) if version == "latest" else int(version)
        while version == "latest" and index > 0 and payloads[index - 1] is None:
            index -= 1
        if not 0 < index <= len(payloads) or payloads[index - 1] is None:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"Secret version [{request.name}] is destroyed.",
            )
        payload = payloads[index - 1]
        assert payload is not None
        return types.AccessSecretVersionResponse(
            name=f"{secret}/versions/{index}", payload=types.SecretPayload(data=payload)
        )

    async def _destroy(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        secret, _, version = request.name.rpartition("/versions/")
        self.versions[secret][int(version) - 1] = None
        return types.SecretVersion(name=request.name, state=types.SecretVersion.State.DESTROYED)

    async def start(self) -> str:
        def handler(
            fn: Any, request_type: Any, response_type: Any
        ) -> grpc.RpcMethodHandler[Any, Any]:
            return grpc.unary_unary_rpc_method_handler(
                fn,
                request_deserializer=request_type.deserialize,
                response_serializer=response_type.serialize,
            )

        generic = grpc.method_handlers_generic_handler(
            _SERVICE,
            {
                "CreateSecret": handler(
                    self._create_secret, types.CreateSecretRequest, types.Secret
                ),
                "AddSecretVersion": handler(
                    self._add_version, types.AddSecretVersionRequest, types.SecretVersion
                ),
                "AccessSecretVersion": handler(
                    self._access,
                    types.AccessSecretVersionRequest,
                    types.AccessSecretVersionResponse,
                ),
                "DestroySecretVersion": handler(
                    self._destroy, types.DestroySecretVersionRequest, types.SecretVersion
                ),
            },
        )
        self.server = grpc.aio.server()
        self.server.add_generic_rpc_handlers((generic,))
        port = self.server.add_insecure_port("127.0.0.1:0")
        await self.server.start()
        self.endpoint = f"127.0.0.1:{port}"
        return self.endpoint

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop(0)
