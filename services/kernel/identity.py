"""Workload identity on the internal plane: who (which service) is calling.

Every workload has a name (`router`, `provider`, `keyvault`, `metrics`, `colocated`)
and proves it on each internal call in one of two ways:

* a service token, sent as `agentopia-identity: <name> <token>`. A workload holds
  only its own token; servers hold SHA-256 digests of their peers' tokens
  (`AGENTOPIA_IDENTITY_PEERS`), so no service can impersonate another. The
  presented token is hashed and compared with `hmac.compare_digest`: constant time
  in the token's content.
* a client certificate (mutual TLS, `services.kernel.tls`): the name comes from the
  certificate the server's CA verified, and no token is needed.

What each method accepts is the mesh's call graph (`services.kernel.peers`). The
check runs in the kernel's `ErrorInterceptor`, prepared once per method: a call
reads one metadata value, hashes it and compares one digest.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc

from services.kernel.config import ConfigError, env_bool, env_str
from services.kernel.errors import GatewayError

__all__ = [
    "IDENTITY_HEADER",
    "IdentitySettings",
    "PeerCheck",
    "Verifier",
    "token_digest",
]

_log = logging.getLogger(__name__)

IDENTITY_HEADER = "agentopia-identity"
# A token shorter than this is guessable: 32 characters of a URL-safe alphabet are
# 192 bits; `make run` and the chart generate 43 (256 bits).
_MIN_TOKEN_CHARS = 32
_Context = grpc.aio.ServicerContext[Any, Any]
PeerCheck = Callable[[_Context], str]


def token_digest(token: str) -> str:
    """The hex SHA-256 a server keeps of a peer's token (`AGENTOPIA_IDENTITY_PEERS`)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _parse_peers(value: str) -> dict[str, bytes]:
    peers: dict[str, bytes] = {}
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        name, sep, digest = item.partition("=")
        try:
            raw = bytes.fromhex(digest.strip())
        except ValueError:
            raw = b""
        if not sep or not name.strip() or len(raw) != hashlib.sha256().digest_size:
            raise ConfigError(
                "AGENTOPIA_IDENTITY_PEERS must be name=<sha256 hex of the token>,... "
                f"(bad entry for {name.strip() or '?'!r})"
            )
        peers[name.strip()] = raw
    return peers


@dataclass(frozen=True, slots=True)
class IdentitySettings:
    """This workload's identity and how it checks its callers'."""

    name: str
    token: str = field(default="", repr=False)
    # Peer name -> SHA-256 of its token.
    peers: Mapping[str, bytes] = field(default_factory=dict, repr=False)
    # Refuse to start without an identity (the chart sets it; a bare process need not).
    required: bool = False
    cert_file: str = ""
    key_file: str = ""
    ca_file: str = ""
    # The name the peers' server certificates carry when it differs from the target's
    # host (one certificate per service reached as 127.0.0.1 in `make run`).
    server_name: str = ""

    @property
    def enforced(self) -> bool:
        """Whether internal RPCs are checked (a peer table or mutual TLS is set)."""
        return bool(self.peers) or self.mtls

    @property
    def mtls(self) -> bool:
        return bool(self.cert_file and self.key_file and self.ca_file)

    @property
    def call_metadata(self) -> tuple[tuple[str, str], ...]:
        """What every internal call this workload makes carries (empty: no token)."""
        return ((IDENTITY_HEADER, f"{self.name} {self.token}"),) if self.token else ()

    @classmethod
    def from_env(cls, name: str, env: Mapping[str, str] | None = None) -> IdentitySettings:
        tls = (
            # PEM certificate (chain) of this workload, for mutual TLS between services.
            env_str("AGENTOPIA_TLS_CERT_FILE", "", env),
            # PEM private key of that certificate.
            env_str("AGENTOPIA_TLS_KEY_FILE", "", env),
            # PEM CA bundle that signs every workload's certificate.
            env_str("AGENTOPIA_TLS_CA_FILE", "", env),
        )
        if any(tls) and not all(tls):
            raise ConfigError(
                "mutual TLS needs all of AGENTOPIA_TLS_CERT_FILE, AGENTOPIA_TLS_KEY_FILE "
                "and AGENTOPIA_TLS_CA_FILE"
            )
        # This workload's name in the mesh's call graph (router, provider, keyvault,
        # metrics, colocated); defaults to the service's own.
        name = env_str("AGENTOPIA_IDENTITY_NAME", name, env)
        # The token workloads sharing one environment (`make run`) find under their name.
        shared = env_str(f"AGENTOPIA_IDENTITY_TOKEN_{name.upper()}", "", env)
        # This workload's own token (at least 32 random characters), sent on every
        # internal call it makes.
        token = env_str("AGENTOPIA_IDENTITY_TOKEN", shared, env).strip()
        if token and len(token) < _MIN_TOKEN_CHARS:
            raise ConfigError(
                f"AGENTOPIA_IDENTITY_TOKEN must be at least {_MIN_TOKEN_CHARS} random characters"
            )
        settings = cls(
            name=name,
            token=token,
            # The workloads this one accepts internal calls from: name=<sha256 hex of
            # its token>,... (empty, with no TLS files: internal RPCs are not checked).
            peers=_parse_peers(env_str("AGENTOPIA_IDENTITY_PEERS", "", env)),
            # Refuse to start without an identity and a peer table (the chart and
            # `make run` set it).
            required=env_bool("AGENTOPIA_IDENTITY_REQUIRED", False, env),
            cert_file=tls[0],
            key_file=tls[1],
            ca_file=tls[2],
            # The name the peers' server certificates carry, when it is not the host
            # of the address a service is reached at.
            server_name=env_str("AGENTOPIA_TLS_SERVER_NAME", "", env),
        )
        _check_required(settings)
        return settings


def _check_required(settings: IdentitySettings) -> None:
    if settings.required and not settings.enforced:
        raise ConfigError(
            "AGENTOPIA_IDENTITY_REQUIRED is set but neither AGENTOPIA_IDENTITY_PEERS nor "
            "the AGENTOPIA_TLS_*_FILE certificates are"
        )
    if settings.required and not (settings.token or settings.mtls):
        raise ConfigError(
            "AGENTOPIA_IDENTITY_REQUIRED is set but this workload has no identity: set "
            "AGENTOPIA_IDENTITY_TOKEN or the AGENTOPIA_TLS_*_FILE certificates"
        )


def _unauthenticated(code: str, message: str) -> GatewayError:
    return GatewayError(grpc.StatusCode.UNAUTHENTICATED, code, message)


_NO_IDENTITY = _unauthenticated(
    "workload_identity_required",
    "This method is internal to the mesh: present a workload identity "
    f"({IDENTITY_HEADER} or a client certificate).",
)
_BAD_IDENTITY = _unauthenticated(
    "invalid_workload_identity", "The workload identity presented is not valid."
)


class Verifier:
    """Checks callers against the peer table and, with mutual TLS, their certificate."""

    def __init__(self, settings: IdentitySettings) -> None:
        self._peers = dict(settings.peers)
        self._mtls = settings.mtls
        self.enforced = settings.enforced
        if not self.enforced:
            _log.warning(
                "no workload identities configured: internal RPCs are not authenticated "
                "(set AGENTOPIA_IDENTITY_PEERS or mutual TLS; the chart and make run do)"
            )

    def peer(self, metadata: Iterable[tuple[str, str | bytes]] | None, context: Any) -> str:
        """The proven name of the caller; UNAUTHENTICATED when it proves none."""
        if self._mtls:
            name = _certificate_name(context)
            if name:
                return name
        for key, value in metadata or ():
            if key == IDENTITY_HEADER and isinstance(value, str):
                return self._token_peer(value)
        raise _NO_IDENTITY

    def _token_peer(self, value: str) -> str:
        name, _, token = value.partition(" ")
        expected = self._peers.get(name)
        presented = hashlib.sha256(token.encode()).digest()
        # Compare even for an unknown name, so the answer's timing does not say
        # which names exist.
        if not hmac.compare_digest(presented, expected or _NOTHING) or expected is None:
            raise _BAD_IDENTITY
        return name

    def check_for(self, method: str, allowed: frozenset[str]) -> PeerCheck:
        """The check of one method, built once: returns the caller's name or raises."""
        denied = GatewayError(
            grpc.StatusCode.PERMISSION_DENIED,
            "workload_not_allowed",
            f"This workload may not call {method}; it is reserved for "
            f"{', '.join(sorted(allowed))}.",
        )

        def check(context: _Context) -> str:
            if not self.enforced:
                return "unverified"
            name = self.peer(context.invocation_metadata(), context)
            if name not in allowed:
                raise denied
            return name

        return check


_NOTHING = b"\x00" * hashlib.sha256().digest_size


def _certificate_name(context: Any) -> str:
    """The service name of a verified client certificate: a SPIFFE ID's last segment
    (`spiffe://…/sa/agentopia-router`) or the common name, without a release prefix
    (`agentopia-router` → `router`)."""
    auth = context.auth_context() or {}
    names: list[bytes] = [
        uri for uri in auth.get("x509_subject_alternative_name", ()) if uri.startswith(b"spiffe://")
    ] or list(auth.get("x509_common_name", ()))
    if not names:
        return ""
    text = names[0].decode(errors="replace").rstrip("/")
    return text.rsplit("/", 1)[-1].rsplit("-", 1)[-1]
