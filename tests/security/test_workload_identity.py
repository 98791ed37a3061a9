"""Every internal RPC of the mesh's call graph, served by a real ServiceHost over real
gRPC: refused without an identity (UNAUTHENTICATED), refused for a workload the graph
does not allow (PERMISSION_DENIED), served for one it does — with tokens over
plaintext, and with client certificates over mutual TLS."""

from __future__ import annotations

import base64
import dataclasses
import hmac
import pathlib
from collections.abc import AsyncIterator

import grpc
import pytest

from services.kernel.channels import open_channel
from services.kernel.config import ConfigError
from services.kernel.errors import GatewayError
from services.kernel.hosting import ServiceHost
from services.kernel.identity import IDENTITY_HEADER, IdentitySettings, Verifier, token_digest
from services.kernel.peers import INTERNAL_CALLERS, WORKLOADS
from tests.deploy.chart import COMPONENTS, by_kind, env_of, render
from tests.support.identity import PEERS, TOKENS, identity
from tools.localrun.certs import write_mesh_certificates

_CASES = [
    (method, allowed, sorted(set(WORKLOADS) - allowed)[0])
    for method, allowed in sorted(INTERNAL_CALLERS.items())
]


def _echo_handlers() -> list[tuple[str, grpc.GenericRpcHandler[bytes, bytes]]]:
    """One unary handler per internal method path (the check does not depend on the
    method's shape): answers the bytes it got."""

    async def echo(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        return request

    by_service: dict[str, dict[str, grpc.RpcMethodHandler[bytes, bytes]]] = {}
    for method in INTERNAL_CALLERS:
        service, name = method.strip("/").split("/")
        by_service.setdefault(service, {})[name] = grpc.unary_unary_rpc_method_handler(echo)
    return [(s, grpc.method_handlers_generic_handler(s, m)) for s, m in by_service.items()]


def _serve_echo(host: ServiceHost) -> None:
    for service, handler in _echo_handlers():

        def register(
            server: grpc.aio.Server, handler: grpc.GenericRpcHandler[bytes, bytes] = handler
        ) -> None:
            server.add_generic_rpc_handlers((handler,))

        host.add(service, register)


@pytest.fixture
async def host_port() -> AsyncIterator[int]:
    host = ServiceHost("keyvault", identity=identity("keyvault"))
    _serve_echo(host)
    port = await host.start("127.0.0.1:0")
    yield port
    await host.stop(0)


async def _call(
    channel: grpc.aio.Channel, method: str, metadata: tuple[tuple[str, str], ...] = ()
) -> grpc.StatusCode:
    call = channel.unary_unary(method, None, None)
    try:
        assert await call(b"ping", metadata=metadata, timeout=10) == b"ping"
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


@pytest.mark.parametrize(("method", "allowed", "outsider"), _CASES)
async def test_tokens_over_plaintext(
    host_port: int, method: str, allowed: frozenset[str], outsider: str
) -> None:
    target = f"127.0.0.1:{host_port}"
    async with grpc.aio.insecure_channel(target) as bare:
        assert await _call(bare, method) == grpc.StatusCode.UNAUTHENTICATED
        forged = ((IDENTITY_HEADER, f"{sorted(allowed)[0]} {'x' * 43}"),)
        assert await _call(bare, method, forged) == grpc.StatusCode.UNAUTHENTICATED
    async with open_channel(target, identity=identity(outsider)) as wrong:
        assert await _call(wrong, method) == grpc.StatusCode.PERMISSION_DENIED
    for name in sorted(allowed):
        async with open_channel(target, identity=identity(name)) as right:
            assert await _call(right, method) == grpc.StatusCode.OK


async def test_a_refusal_names_its_code(host_port: int) -> None:
    method = "/agentopia.v1.ProviderKeyService/WatchProviderKeys"
    async with open_channel(f"127.0.0.1:{host_port}", identity=identity("router")) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await channel.unary_unary(method, None, None)(b"", timeout=10)
    error = GatewayError.from_rpc_error(caught.value)
    assert error.code == "workload_not_allowed"
    assert TOKENS["router"] not in (caught.value.details() or "")


def _tls(
    directory: pathlib.Path, name: str, certs: dict[str, tuple[pathlib.Path, pathlib.Path]]
) -> IdentitySettings:
    cert, key = certs[name]
    # No token and no peer table: the certificate alone proves the workload.
    return IdentitySettings(
        name, cert_file=str(cert), key_file=str(key), ca_file=str(directory / "ca.pem")
    )


@pytest.mark.parametrize(("method", "allowed", "outsider"), _CASES)
async def test_client_certificates_over_mutual_tls(
    tmp_path: pathlib.Path, method: str, allowed: frozenset[str], outsider: str
) -> None:
    certs = write_mesh_certificates(tmp_path, WORKLOADS)
    rogue = write_mesh_certificates(tmp_path / "rogue", ["router"])  # another CA's "router"
    host = ServiceHost("keyvault", identity=_tls(tmp_path, "keyvault", certs))
    _serve_echo(host)
    target = f"127.0.0.1:{await host.start('127.0.0.1:0')}"
    try:
        server_only = grpc.ssl_channel_credentials((tmp_path / "ca.pem").read_bytes())
        async with grpc.aio.secure_channel(target, server_only) as anonymous:
            # No client certificate: the handshake itself is refused.
            assert await _call(anonymous, method) == grpc.StatusCode.UNAVAILABLE
        async with open_channel(target, identity=_tls(tmp_path, outsider, certs)) as wrong:
            assert await _call(wrong, method) == grpc.StatusCode.PERMISSION_DENIED
        for name in sorted(allowed):
            async with open_channel(target, identity=_tls(tmp_path, name, certs)) as right:
                assert await _call(right, method) == grpc.StatusCode.OK
        impostor = dataclasses.replace(
            _tls(tmp_path / "rogue", "router", rogue), ca_file=str(tmp_path / "ca.pem")
        )
        async with open_channel(target, identity=impostor) as forged:
            # The handshake fails (an untrusted client certificate), so nothing is served.
            assert await _call(forged, method) != grpc.StatusCode.OK
    finally:
        await host.stop(0)


async def test_plaintext_channel_cannot_reach_a_tls_server(tmp_path: pathlib.Path) -> None:
    certs = write_mesh_certificates(tmp_path, ["keyvault", "router"])
    host = ServiceHost("keyvault", identity=_tls(tmp_path, "keyvault", certs))
    target = f"127.0.0.1:{await host.start('127.0.0.1:0')}"
    try:
        async with open_channel(target, identity=identity("router")) as plain:
            code = await _call(plain, "/agentopia.v1.ClientKeyService/WatchClientKeys")
        assert code == grpc.StatusCode.UNAVAILABLE
    finally:
        await host.stop(0)


def test_tokens_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every token check — right, wrong, wrong length, unknown name — goes through
    hmac.compare_digest on equal-length digests."""
    seen: list[tuple[int, int]] = []
    real = hmac.compare_digest

    def recording(a: bytes, b: bytes) -> bool:
        seen.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", recording)
    verifier = Verifier(IdentitySettings("keyvault", peers=PEERS))
    assert verifier.peer([(IDENTITY_HEADER, f"router {TOKENS['router']}")], None) == "router"
    for value in (f"router {TOKENS['router'][:-1]}", "router x", f"nobody {TOKENS['router']}"):
        with pytest.raises(GatewayError) as caught:
            verifier.peer([(IDENTITY_HEADER, value)], None)
        assert caught.value.status == grpc.StatusCode.UNAUTHENTICATED
    assert seen == [(32, 32)] * 4


def test_a_required_identity_must_be_configured() -> None:
    with pytest.raises(ConfigError, match="AGENTOPIA_IDENTITY_REQUIRED"):
        IdentitySettings.from_env("router", {"AGENTOPIA_IDENTITY_REQUIRED": "true"})
    with pytest.raises(ConfigError, match="at least 32"):
        IdentitySettings.from_env("router", {"AGENTOPIA_IDENTITY_TOKEN": "short"})
    settings = IdentitySettings.from_env(
        "router",
        {
            "AGENTOPIA_IDENTITY_TOKEN_ROUTER": TOKENS["router"],
            "AGENTOPIA_IDENTITY_PEERS": "router=" + PEERS["router"].hex(),
        },
    )
    assert settings.token == TOKENS["router"] and settings.enforced
    assert TOKENS["router"] not in repr(settings)


def test_the_chart_scopes_each_token_to_its_workload() -> None:
    """Each Deployment reads only its own token (and the peer table) from the
    generated Secret; the peer table holds the digests of exactly those tokens."""
    documents = render()
    secret = by_kind(documents, "Secret")["agentopia-workload-identity"]
    tokens = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    peers = dict(item.split("=") for item in tokens.pop("peers").split(","))
    assert peers == {name: token_digest(token) for name, token in tokens.items()}
    assert all(len(token) >= 32 for token in tokens.values())
    for name, deployment in by_kind(documents, "Deployment").items():
        if deployment["metadata"]["labels"]["app.kubernetes.io/component"] not in COMPONENTS:
            continue  # not a service of ours (the in-release limits store)
        env = env_of(deployment)
        if name == "agentopia-edge":
            assert "AGENTOPIA_IDENTITY_TOKEN" not in env
            continue
        own = env["AGENTOPIA_IDENTITY_NAME"]["value"]
        assert env["AGENTOPIA_IDENTITY_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == own
        assert env["AGENTOPIA_IDENTITY_REQUIRED"]["value"] == "true"


def test_the_chart_denies_by_default_and_admits_the_call_graph() -> None:
    policies = by_kind(render(), "NetworkPolicy")
    assert policies["agentopia-default-deny"]["spec"]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/instance": "agentopia"
    }

    def callers(component: str) -> set[str]:
        (grpc_rule, *_) = policies[f"agentopia-{component}"]["spec"]["ingress"]
        return {
            peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
            for peer in grpc_rule["from"]
        }

    assert callers("router") == {"edge"}
    if "agentopia-limits-redis" in policies:  # the chart's own limits store
        assert callers("limits-redis") == {"router", "keyvault"}
    assert callers("provider") == {"router", "keyvault"}
    assert callers("keyvault") == {"edge", "router", "provider", "metrics"}
    assert callers("metrics") == {"edge", "router", "provider"}
    assert "from" not in policies["agentopia-edge"]["spec"]["ingress"][0]
