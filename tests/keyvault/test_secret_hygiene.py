"""No key material in captured logs (DEBUG, SQL included), traces or error bodies, while
the key vault does everything it does — successes and failures alike."""

from __future__ import annotations

import base64
import logging
import secrets
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from agentopia.v1 import client_key_service_pb2 as ck_pb2
from agentopia.v1 import provider_key_service_pb2 as pk_pb2

from keyvault.config import KeyVaultConfig
from services.kernel.logs import JsonFormatter
from tests.keyvault.conftest import ADMIN_KEY, SERVICE_TOKEN, Vault, admin
from tests.support.tracing import recording_exporter


@pytest.fixture
def backend() -> str:
    return "sqlite"


async def _expect_error(call: Any, errors: list[bytes]) -> None:
    try:
        result = await call
    except grpc.aio.AioRpcError as error:
        errors.append(str(error.details()).encode())
        trailing: Any = error.trailing_metadata() or ()
        for key, value in trailing:
            errors.append(
                key.encode() + b"=" + (value if isinstance(value, bytes) else value.encode())
            )
        return
    raise AssertionError(f"expected an error, got {result}")


async def test_no_key_material_in_logs_traces_or_errors(
    start_vault: Callable[..., Any],
    make_config: Callable[..., KeyVaultConfig],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy")  # statements and rows too
    exporter = recording_exporter()
    vault: Vault = await start_vault(make_config())  # its host traces every RPC
    errors = list[bytes]()
    provider_secret = "sk-prov-" + secrets.token_urlsafe(24)
    rotated_secret = "sk-rot-" + secrets.token_urlsafe(24)
    refused_secret = "sk-refused-" + secrets.token_urlsafe(24)
    wrong_token = "sk-agp-" + secrets.token_urlsafe(32)

    client = await vault.client_keys.CreateClientKey(
        ck_pb2.CreateClientKeyRequest(name="c"), metadata=admin()
    )
    created = await vault.provider_keys.CreateProviderKey(
        pk_pb2.CreateProviderKeyRequest(provider="mock", secret=provider_secret), metadata=admin()
    )
    await vault.provider_keys.RotateProviderKey(
        pk_pb2.RotateProviderKeyRequest(key_id=created.key.key_id, secret=rotated_secret),
        metadata=admin(),
    )
    watch = vault.provider_keys.WatchProviderKeys(
        pk_pb2.WatchProviderKeysRequest(), metadata=admin(SERVICE_TOKEN)
    )
    lease = await watch.read()
    watch.cancel()
    client_watch = vault.client_keys.WatchClientKeys(
        ck_pb2.WatchClientKeysRequest(watcher="hygiene")
    )
    snapshot = await client_watch.read()
    client_watch.cancel()
    await vault.provider_keys.ReportKeyOutcomes(
        pk_pb2.ReportKeyOutcomesRequest(
            outcomes=[pk_pb2.KeyOutcome(key_id=created.key.key_id, status=401)]
        ),
        metadata=admin(SERVICE_TOKEN),
    )
    await _expect_error(
        vault.provider_keys.CreateProviderKey(
            pk_pb2.CreateProviderKeyRequest(provider="NOT VALID", secret=refused_secret),
            metadata=admin(),
        ),
        errors,
    )
    await _expect_error(
        vault.provider_keys.CreateProviderKey(
            pk_pb2.CreateProviderKeyRequest(provider="mock", secret=refused_secret, weight=-5),
            metadata=admin(),
        ),
        errors,
    )
    await _expect_error(
        vault.client_keys.ListClientKeys(
            ck_pb2.ListClientKeysRequest(), metadata=admin(wrong_token)
        ),
        errors,
    )
    await _expect_error(
        vault.client_keys.ListClientKeys(
            ck_pb2.ListClientKeysRequest(), metadata=admin(client.secret)
        ),
        errors,
    )
    await _expect_error(
        vault.provider_keys.ReportKeyOutcomes(
            pk_pb2.ReportKeyOutcomesRequest(), metadata=admin(wrong_token)
        ),
        errors,
    )

    assert isinstance(lease, pk_pb2.WatchProviderKeysResponse) and lease.keys  # secrets did flow
    assert isinstance(snapshot, ck_pb2.WatchClientKeysResponse)
    hash_key = bytes(snapshot.hash_key)
    kek = vault.config.kek_file.read_bytes().strip()
    material = {
        "admin key": ADMIN_KEY.encode(),
        "service token": SERVICE_TOKEN.encode(),
        "client key": client.secret.encode(),
        "provider key": provider_secret.encode(),
        "rotated provider key": rotated_secret.encode(),
        "refused provider key": refused_secret.encode(),
        "unknown bearer token": wrong_token.encode(),
        "hash key (hex)": hash_key.hex().encode(),
        "hash key (base64)": base64.b64encode(hash_key),
        "kek (base64)": kek,
    }
    formatter = JsonFormatter("keyvault")
    logs = "\n".join(formatter.format(r) + r.getMessage() for r in caplog.records).encode()
    spans = "\n".join(s.to_json() for s in exporter.get_finished_spans()).encode()
    captured = {"logs": logs, "traces": spans, "error bodies": b"\n".join(errors)}
    assert any(r.name.startswith("sqlalchemy.engine") for r in caplog.records)
    assert len(caplog.records) > 20 and len(exporter.get_finished_spans()) > 5
    assert len(errors) >= 5
    for where, blob in captured.items():
        for what, secret in material.items():
            assert secret not in blob, f"{what} found in {where}"
