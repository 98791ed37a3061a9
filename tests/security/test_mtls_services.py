"""Mutual TLS as the mesh runs it: real services serving with certificates from files
(the key vault, the metrics service) and the real clients the other services use
(the provider service's key lease, a router's key watch and usage recorder) calling
them with their own — and no workload token anywhere. A plaintext peer gets nowhere."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import pathlib
from collections.abc import AsyncIterator

import grpc
import pytest
from agentopia.v1 import metrics_service_pb2 as pb
from agentopia.v1 import metrics_service_pb2_grpc as pb_grpc
from agentopia.v1 import provider_key_service_pb2 as pk_pb2
from agentopia.v1 import provider_key_service_pb2_grpc as pk_grpc
from prometheus_client import CollectorRegistry

from keyvault.client.keycache import KeyCache
from keyvault.client.provider_keys.lease import ProviderKeyLease
from keyvault.client.provider_keys.settings import LeaseSettings
from keyvault.config import KeyVaultConfig
from metrics.client.recorder import UsageRecorder
from services.kernel.channels import open_channel
from services.kernel.identity import IdentitySettings
from services.kernel.peers import WORKLOADS
from tests.keyvault.running import RunningKeyVault, start
from tests.metrics.conftest import config_for, serving
from tools.localrun.certs import write_mesh_certificates

SERVICE_TOKEN = "svc-mtls-tests-" + "t" * 28
ADMIN_KEY = "sk-agp-mtls-tests-admin-" + "x" * 20


def _tls_env(directory: pathlib.Path, name: str) -> dict[str, str]:
    return {
        "AGENTOPIA_IDENTITY_NAME": name,
        "AGENTOPIA_TLS_CERT_FILE": str(directory / f"{name}.pem"),
        "AGENTOPIA_TLS_KEY_FILE": str(directory / f"{name}.key"),
        "AGENTOPIA_TLS_CA_FILE": str(directory / "ca.pem"),
        "AGENTOPIA_IDENTITY_REQUIRED": "true",
    }


def _tls(directory: pathlib.Path, name: str) -> IdentitySettings:
    return IdentitySettings.from_env(name, _tls_env(directory, name))


@pytest.fixture
def certs(tmp_path: pathlib.Path) -> pathlib.Path:
    directory = tmp_path / "certs"
    write_mesh_certificates(directory, WORKLOADS)
    return directory


@contextlib.asynccontextmanager
async def _vault(data: pathlib.Path, certs: pathlib.Path) -> AsyncIterator[RunningKeyVault]:
    config = KeyVaultConfig.from_env(
        {
            "AGENTOPIA_DATA_DIR": str(data),
            "AGENTOPIA_KEYVAULT_DATABASE_URL": f"sqlite:///{data / 'keyvault.db'}",
            "AGENTOPIA_ADMIN_KEY": ADMIN_KEY,
            "AGENTOPIA_KEYVAULT_SERVICE_TOKEN": SERVICE_TOKEN,
            "AGENTOPIA_PROMETHEUS_PORT": "0",
            **_tls_env(certs, "keyvault"),
        }
    )
    running = await start(config)
    try:
        yield running
    finally:
        await running.stop()


async def test_the_lease_and_the_key_watch_over_mutual_tls(
    tmp_path: pathlib.Path, certs: pathlib.Path
) -> None:
    async with _vault(tmp_path, certs) as vault:
        settings = LeaseSettings(
            target=vault.target,
            service_token=SERVICE_TOKEN,
            watcher="mtls-test",
            identity=_tls(certs, "provider"),
        )
        lease = ProviderKeyLease(settings, ["openai"])
        following = asyncio.create_task(lease.follow())
        keys = KeyCache()
        channel = open_channel(vault.target, identity=_tls(certs, "router"))
        watching = asyncio.create_task(keys.follow(channel, watcher="mtls-test"))
        try:
            assert await lease.wait_ready()
            await asyncio.wait_for(keys.ready.wait(), 30)
            assert keys.authenticate(ADMIN_KEY).name == "bootstrap admin"
        finally:
            for task in (following, watching):
                task.cancel()
            await asyncio.gather(following, watching, return_exceptions=True)
            await lease.close()
            await channel.close(None)


async def test_a_workload_the_graph_refuses_is_refused_over_mutual_tls(
    tmp_path: pathlib.Path, certs: pathlib.Path
) -> None:
    async with (
        _vault(tmp_path, certs) as vault,
        open_channel(vault.target, identity=_tls(certs, "metrics")) as channel,
    ):
        call = pk_grpc.ProviderKeyServiceStub(channel).WatchProviderKeys(
            pk_pb2.WatchProviderKeysRequest(watcher="t"),
            metadata=(("authorization", f"Bearer {SERVICE_TOKEN}"),),
            timeout=10,
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call.read()
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_usage_recorded_over_mutual_tls(tmp_path: pathlib.Path, certs: pathlib.Path) -> None:

    config = config_for(f"sqlite:///{tmp_path}/metrics.db", identity=_tls(certs, "metrics"))
    async with serving(config, CollectorRegistry()) as port:
        target = f"127.0.0.1:{port}"
        recorder = UsageRecorder(target, flush_interval=0.05, identity=_tls(certs, "router"))
        event = pb.UsageEvent(
            event_id="e1", request_id="r1", model="m", provider="p", cost_usd="0.25"
        )
        event.time.FromDatetime(dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC))
        recorder.record(event)
        assert await recorder.aclose() == 0  # nothing left unsent
        request = pb.GetUsageSummaryRequest()
        request.start_time.FromDatetime(dt.datetime(2026, 3, 1, tzinfo=dt.UTC))
        request.end_time.FromDatetime(dt.datetime(2026, 3, 2, tzinfo=dt.UTC))
        async with open_channel(target, identity=_tls(certs, "router")) as channel:
            reply = await pb_grpc.MetricsServiceStub(channel).GetUsageSummary(request, timeout=10)
        (row,) = reply.rows
        assert float(row.cost_usd) == 0.25  # a proven router's cost, as sent
        async with grpc.aio.insecure_channel(target) as plain:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await pb_grpc.MetricsServiceStub(plain).GetUsageSummary(request, timeout=10)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
