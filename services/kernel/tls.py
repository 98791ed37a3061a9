"""Mutual TLS between services, from PEM files (cert-manager Secrets, GKE mesh
certificates, or the ones `make run` generates).

Servers require a client certificate signed by the CA (gRPC Python can either require
one or not ask at all): every peer — the edge and health probes included — connects
with one. The files are read when a server binds or a channel opens; rotated
certificates are picked up by the next restart (cert-manager renews well before
expiry).
"""

from __future__ import annotations

import pathlib

import grpc

from services.kernel.config import ConfigError
from services.kernel.identity import IdentitySettings

__all__ = ["channel_credentials", "server_credentials"]


def _read(path: str, what: str) -> bytes:
    try:
        return pathlib.Path(path).read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read the TLS {what} {path}: {error.strerror}") from None


def server_credentials(settings: IdentitySettings) -> grpc.ServerCredentials:
    return grpc.ssl_server_credentials(
        [(_read(settings.key_file, "key"), _read(settings.cert_file, "certificate"))],
        root_certificates=_read(settings.ca_file, "CA bundle"),
        require_client_auth=True,
    )


def channel_credentials(settings: IdentitySettings) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=_read(settings.ca_file, "CA bundle"),
        private_key=_read(settings.key_file, "key"),
        certificate_chain=_read(settings.cert_file, "certificate"),
    )
