"""KeyCache: authentication from pushed snapshots, every failure with its own code."""

from __future__ import annotations

import hashlib
import hmac
import time

import grpc
import pytest
from agentopia.v1 import client_key_service_pb2 as kv_pb2
from agentopia.v1 import keyvault_types_pb2 as kv_types

from keyvault.client.keycache import KeyCache, bearer_token
from services.kernel.errors import GatewayError

HASH_KEY = b"k" * 32


def _record(secret: str, key_id: str, **fields: object) -> kv_pb2.ClientKeyRecord:
    digest = hmac.new(HASH_KEY, secret.encode(), hashlib.sha256).digest()
    key = kv_pb2.ClientKey(key_id=key_id, name=key_id, role=kv_types.KEY_ROLE_CLIENT)
    for name, value in fields.items():
        if name == "expire_at":
            key.expire_time.FromSeconds(int(value))  # type: ignore[call-overload]
        elif name == "allowed_models":
            key.allowed_models.extend(value)  # type: ignore[arg-type]
        else:
            setattr(key, name, value)
    return kv_pb2.ClientKeyRecord(secret_digest=digest, key=key)


@pytest.fixture
def cache() -> KeyCache:
    keys = KeyCache()
    keys.apply(
        kv_pb2.WatchClientKeysResponse(
            hash_key=HASH_KEY,
            version=3,
            keys=[
                _record("sk-agp-good", "key_good", team="search", allowed_models=["mock/echo"]),
                _record("sk-agp-revoked", "key_revoked", revoked=True),
                _record("sk-agp-expired", "key_expired", expire_at=time.time() - 10),
                _record("sk-agp-future", "key_future", expire_at=time.time() + 3600),
            ],
        )
    )
    return keys


def _code(cache: KeyCache, token: str | None) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(GatewayError) as caught:
        cache.authenticate(token)
    return caught.value.status, caught.value.code


def test_valid_key_yields_principal_with_scope(cache: KeyCache) -> None:
    principal = cache.authenticate("sk-agp-good")
    assert principal.key_id == "key_good"
    assert principal.team == "search"
    assert principal.may_use("mock/echo")
    assert not principal.may_use("openai/gpt-4o")
    assert cache.authenticate("sk-agp-future").may_use("anything")


@pytest.mark.parametrize(
    ("token", "code"),
    [
        (None, "missing_api_key"),
        ("", "malformed_api_key"),
        ("sk-agp-unknown", "invalid_api_key"),
        ("sk-agp-revoked", "revoked_api_key"),
        ("sk-agp-expired", "expired_api_key"),
    ],
)
def test_each_failure_is_unauthenticated_with_its_code(
    cache: KeyCache, token: str | None, code: str
) -> None:
    assert _code(cache, token) == (grpc.StatusCode.UNAUTHENTICATED, code)


def test_not_ready_is_retryable_unavailable() -> None:
    status, code = _code(KeyCache(), "sk-agp-good")
    assert (status, code) == (grpc.StatusCode.UNAVAILABLE, "auth_unavailable")


def test_new_snapshot_replaces_old_one(cache: KeyCache) -> None:
    cache.apply(kv_pb2.WatchClientKeysResponse(hash_key=HASH_KEY, version=4, keys=[]))
    assert cache.version == 4
    assert _code(cache, "sk-agp-good")[1] == "invalid_api_key"


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ((("authorization", "Bearer sk-1"),), "sk-1"),
        ((("authorization", "bearer  sk-2 "),), "sk-2"),
        ((("authorization", "Basic abc"),), ""),
        ((("x-other", "1"),), None),
        (None, None),
    ],
)
def test_bearer_token(metadata: tuple[tuple[str, str], ...] | None, expected: str | None) -> None:
    assert bearer_token(metadata) == expected
