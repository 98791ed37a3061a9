"""Reports are for viewer and admin keys only; ingest (RecordUsage) needs none and
keeps working while the key vault is away."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator

import grpc
import pytest
from agentopia.v1 import client_key_service_pb2 as kv_pb2
from agentopia.v1 import keyvault_types_pb2 as kv_types
from agentopia.v1 import metrics_service_pb2 as pb
from agentopia.v1 import metrics_service_pb2_grpc as pb_grpc
from prometheus_client import CollectorRegistry

from keyvault.client.keycache import KeyCache
from services.kernel.channels import identified
from tests.metrics.conftest import config_for, serving
from tests.support.identity import identity

HASH_KEY = b"m" * 32
KEYS = {
    "sk-agp-admin-key": kv_types.KEY_ROLE_ADMIN,
    "sk-agp-viewer-key": kv_types.KEY_ROLE_VIEWER,
    "sk-agp-client-key": kv_types.KEY_ROLE_CLIENT,
}


@pytest.fixture
async def stub(tmp_path: object) -> AsyncIterator[pb_grpc.MetricsServiceAsyncStub]:
    url = f"sqlite:///{tmp_path}/metrics.db"
    # The key vault's snapshot, pushed into the key table the service reads.
    keys = KeyCache()
    keys.apply(
        kv_pb2.WatchClientKeysResponse(
            hash_key=HASH_KEY,
            version=1,
            keys=[
                kv_pb2.ClientKeyRecord(
                    secret_digest=hmac.new(HASH_KEY, secret.encode(), hashlib.sha256).digest(),
                    key=kv_pb2.ClientKey(key_id=secret, role=role),
                )
                for secret, role in KEYS.items()
            ],
        )
    )
    async with (
        serving(config_for(url), CollectorRegistry(), keys) as port,
        identified(grpc.aio.insecure_channel(f"127.0.0.1:{port}"), identity("router")) as channel,
    ):
        # Calls as a router: ingest takes its identity, reports the caller's API key.
        yield pb_grpc.MetricsServiceStub(channel)


def _auth(secret: str | None) -> tuple[tuple[str, str], ...]:
    return () if secret is None else (("authorization", f"Bearer {secret}"),)


@pytest.mark.parametrize(
    ("secret", "code"),
    [
        ("sk-agp-admin-key", grpc.StatusCode.OK),
        ("sk-agp-viewer-key", grpc.StatusCode.OK),
        ("sk-agp-client-key", grpc.StatusCode.PERMISSION_DENIED),
        ("sk-agp-unknown", grpc.StatusCode.UNAUTHENTICATED),
        (None, grpc.StatusCode.UNAUTHENTICATED),
    ],
)
async def test_reports_need_a_viewer_or_admin_key(
    stub: pb_grpc.MetricsServiceAsyncStub, secret: str | None, code: grpc.StatusCode
) -> None:
    try:
        await stub.GetUsageSummary(pb.GetUsageSummaryRequest(), metadata=_auth(secret))
        got = grpc.StatusCode.OK
    except grpc.aio.AioRpcError as error:
        got = error.code()
    assert got == code


async def test_ingest_needs_no_api_key(stub: pb_grpc.MetricsServiceAsyncStub) -> None:
    event = pb.UsageEvent(event_id="e1", request_id="r1", model="mock/echo", provider="mock")
    event.time.GetCurrentTime()
    reply = await stub.RecordUsage(pb.RecordUsageRequest(events=[event]))
    assert reply.stored == 1
