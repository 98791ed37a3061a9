"""Google Secret Manager access through the official client library. With an explicit
endpoint (an emulator or test fake) the client talks plaintext gRPC to it with
anonymous credentials; otherwise it uses Google's endpoint and default credentials."""

from __future__ import annotations

from typing import Any, Protocol

import grpc

__all__ = ["SecretManagerReader", "SecretReader", "make_secret_manager_client"]


class SecretReader(Protocol):
    async def access(self, version_name: str) -> tuple[str, bytes]:
        """(resolved version name, payload) of a secret version ("latest" resolves)."""
        ...


def make_secret_manager_client(endpoint: str = "") -> Any:
    """A SecretManagerServiceAsyncClient; `endpoint` = host:port of an insecure emulator."""
    # Imported lazily: the library is heavy and only needed when configured.
    from google.api_core.client_options import ClientOptions  # noqa: PLC0415
    from google.auth.credentials import AnonymousCredentials  # noqa: PLC0415
    from google.cloud import secretmanager_v1  # noqa: PLC0415
    from google.cloud.secretmanager_v1.services.secret_manager_service.transports import (  # noqa: PLC0415
        SecretManagerServiceGrpcAsyncIOTransport,
    )

    if not endpoint:
        return secretmanager_v1.SecretManagerServiceAsyncClient()

    def insecure_channel(*_args: Any, **_kwargs: Any) -> grpc.aio.Channel:
        return grpc.aio.insecure_channel(endpoint)

    transport = SecretManagerServiceGrpcAsyncIOTransport(
        host=endpoint,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        channel=insecure_channel,
    )
    return secretmanager_v1.SecretManagerServiceAsyncClient(
        transport=transport, client_options=ClientOptions(api_endpoint=endpoint)
    )


class SecretManagerReader:
    def __init__(self, client: Any) -> None:
        self._client = client

    async def access(self, version_name: str) -> tuple[str, bytes]:
        response = await self._client.access_secret_version(name=version_name)
        return str(response.name), bytes(response.payload.data)
