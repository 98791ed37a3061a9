"""Admin authorisation: every RPC of the four services declares its access (and one that
does not stops the start); each bad credential gets its own status and code; client keys
never reach the admin API; the service token guards leases."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import grpc
import pytest
from agentopia.v1 import client_key_service_pb2 as ck_pb2
from agentopia.v1 import keyvault_types_pb2 as kv_types
from agentopia.v1 import provider_key_service_pb2 as pk_pb2
from google.protobuf import field_mask_pb2
from google.protobuf.descriptor import ServiceDescriptor

from keyvault.access import Access, Guard
from keyvault.audit.servicer import AuditServicer
from keyvault.client_keys.servicer import ClientKeyServicer
from keyvault.config import KeyVaultConfig
from keyvault.handlers import GuardedServicer, register
from keyvault.provider_keys.servicer import ProviderKeyServicer
from keyvault.routing_config.servicer import RoutingConfigServicer
from keyvault.storage.feed import SnapshotFeed
from services.kernel.hosting import ServiceHost
from tests.keyvault.conftest import ADMIN_KEY, SERVICE_TOKEN, Vault, admin


@pytest.fixture
def backend() -> str:
    """Authorisation does not depend on the database: SQLite only."""
    return "sqlite"


SERVICERS = (ClientKeyServicer, ProviderKeyServicer, RoutingConfigServicer, AuditServicer)


@pytest.mark.parametrize("servicer", SERVICERS, ids=lambda s: s.SERVICE.name)
def test_every_rpc_declares_its_access(servicer: type[GuardedServicer]) -> None:
    service = servicer.SERVICE
    declared = dict(servicer.ACCESS)
    assert set(declared) == {m.name for m in service.methods}
    http_rules = {
        m.name
        for m in service.methods
        if m.GetOptions().ListFields()  # google.api.http is the only option we set
    }
    public = (Access.READ, Access.WRITE, Access.SELF)
    admin_rpcs = {n for n, a in declared.items() if a in public}
    assert admin_rpcs == http_rules  # every public RPC has a REST mapping, internal ones none


def test_internal_rpcs_take_mesh_credentials_only() -> None:
    internal = {
        name: access
        for servicer in SERVICERS
        for name, access in servicer.ACCESS.items()
        if access not in (Access.READ, Access.WRITE, Access.SELF)
    }
    assert internal == {
        "WatchClientKeys": Access.INTERNAL,
        "WatchProviderKeys": Access.SERVICE,
        "ReportKeyOutcomes": Access.SERVICE,
        "PutRoutingConfig": Access.FORWARDED_WRITE,
        "WatchRoutingConfig": Access.INTERNAL,
    }


class _Undeclared:
    """A servicer that forgot to declare the access of its one method."""

    SERVICE: ClassVar[ServiceDescriptor] = AuditServicer.SERVICE
    ACCESS: ClassVar[Mapping[str, Access]] = {}

    async def ListAuditEvents(self, request: Any, context: Any, actor: Any) -> Any:
        raise AssertionError("never served")


async def test_a_method_without_declared_access_is_refused_at_start_up() -> None:
    guard = Guard(SnapshotFeed("unused", build=_never), "")
    with pytest.raises(TypeError, match=r"no access declared for \['ListAuditEvents'\]"):
        register(ServiceHost("keyvault"), guard, _Undeclared())


async def _never() -> Any:
    raise AssertionError("not called")


async def _create(
    vault: Vault, role: kv_types.KeyRole.ValueType, **fields: Any
) -> ck_pb2.CreateClientKeyResponse:
    response: ck_pb2.CreateClientKeyResponse = await vault.client_keys.CreateClientKey(
        ck_pb2.CreateClientKeyRequest(role=role, **fields), metadata=admin()
    )
    return response


async def _list_as(vault: Vault, metadata: Any) -> grpc.aio.AioRpcError | None:
    try:
        await vault.client_keys.ListClientKeys(ck_pb2.ListClientKeysRequest(), metadata=metadata)
    except grpc.aio.AioRpcError as error:
        return error
    return None


def _code(error: grpc.aio.AioRpcError | None) -> tuple[grpc.StatusCode, str]:
    assert error is not None
    from services.kernel.errors import GatewayError  # noqa: PLC0415

    return error.code(), GatewayError.from_rpc_error(error).code


async def test_missing_malformed_unknown_revoked_and_expired_keys(vault: Vault) -> None:
    unauth = grpc.StatusCode.UNAUTHENTICATED
    assert _code(await _list_as(vault, ())) == (unauth, "missing_api_key")
    assert _code(await _list_as(vault, (("authorization", "Basic abc"),))) == (
        unauth,
        "malformed_api_key",
    )
    assert _code(await _list_as(vault, admin("sk-agp-nope"))) == (unauth, "invalid_api_key")

    revoked = await _create(vault, kv_types.KEY_ROLE_ADMIN)
    await vault.client_keys.RevokeClientKey(
        ck_pb2.RevokeClientKeyRequest(key_id=revoked.key.key_id), metadata=admin()
    )
    assert _code(await _list_as(vault, admin(revoked.secret))) == (unauth, "revoked_api_key")

    expiring = await _create(vault, kv_types.KEY_ROLE_ADMIN)
    past = ck_pb2.ClientKey(key_id=expiring.key.key_id)
    past.expire_time.FromDatetime(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    await vault.client_keys.UpdateClientKey(
        ck_pb2.UpdateClientKeyRequest(
            key=past, update_mask=field_mask_pb2.FieldMask(paths=["expire_time"])
        ),
        metadata=admin(),
    )
    assert _code(await _list_as(vault, admin(expiring.secret))) == (unauth, "expired_api_key")


async def test_client_keys_are_refused_and_viewers_only_read(vault: Vault) -> None:
    client = await _create(vault, kv_types.KEY_ROLE_CLIENT)
    viewer = await _create(vault, kv_types.KEY_ROLE_VIEWER)
    error = await _list_as(vault, admin(client.secret))
    assert _code(error) == (grpc.StatusCode.PERMISSION_DENIED, "admin_key_required")
    assert error is not None and "admin key" in (error.details() or "")

    assert await _list_as(vault, admin(viewer.secret)) is None
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await vault.client_keys.CreateClientKey(
            ck_pb2.CreateClientKeyRequest(), metadata=admin(viewer.secret)
        )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await vault.provider_keys.CreateProviderKey(
            pk_pb2.CreateProviderKeyRequest(provider="mock", secret="x" * 20),
            metadata=admin(client.secret),
        )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_provider_key_lease_needs_the_service_token(vault: Vault) -> None:
    async def first(metadata: Any) -> grpc.StatusCode:
        call = vault.provider_keys.WatchProviderKeys(
            pk_pb2.WatchProviderKeysRequest(), metadata=metadata
        )
        try:
            await call.read()
        except grpc.aio.AioRpcError as error:
            return error.code()
        finally:
            call.cancel()
        return grpc.StatusCode.OK

    assert await first(()) == grpc.StatusCode.UNAUTHENTICATED
    assert await first(admin()) == grpc.StatusCode.PERMISSION_DENIED  # admins never see secrets
    assert await first(admin(SERVICE_TOKEN)) == grpc.StatusCode.OK
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await vault.provider_keys.ReportKeyOutcomes(
            pk_pb2.ReportKeyOutcomesRequest(), metadata=admin()
        )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_lease_is_refused_when_no_service_token_is_configured(
    start_vault: Callable[..., Any], make_config: Callable[..., KeyVaultConfig]
) -> None:
    vault: Vault = await start_vault(make_config(AGENTOPIA_KEYVAULT_SERVICE_TOKEN=""))
    call = vault.provider_keys.WatchProviderKeys(
        pk_pb2.WatchProviderKeysRequest(), metadata=admin("")
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call.read()
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "AGENTOPIA_KEYVAULT_SERVICE_TOKEN" in (caught.value.details() or "")


async def test_bootstrap_admin_key_follows_the_environment(
    start_vault: Callable[..., Any], make_config: Callable[..., KeyVaultConfig]
) -> None:
    first: Vault = await start_vault(make_config())
    assert await _list_as(first, admin()) is None
    await first.running.stop()
    new_key = "sk-agp-rotated-bootstrap-" + "y" * 20
    second: Vault = await start_vault(make_config(AGENTOPIA_ADMIN_KEY=new_key))
    assert await _list_as(second, admin(new_key)) is None
    assert _code(await _list_as(second, admin(ADMIN_KEY))) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "invalid_api_key",
    )
    keys = await second.client_keys.ListClientKeys(
        ck_pb2.ListClientKeysRequest(), metadata=admin(new_key)
    )
    bootstrap = [k for k in keys.keys if k.bootstrap]
    assert len(bootstrap) == 1 and bootstrap[0].role == kv_types.KEY_ROLE_ADMIN
