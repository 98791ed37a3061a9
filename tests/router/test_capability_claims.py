"""The registry may claim no capability its provider's adapter lacks: the router
refuses to start with such a registry (one error naming the model, the
capability and the provider; the process exits 2), and refuses runtime edits
and stored revisions that would introduce one."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
from agentopia.v1 import provider_service_pb2 as pv_pb2
from agentopia.v1 import provider_service_pb2_grpc as pv_grpc
from agentopia.v1 import routing_admin_service_pb2 as ra_pb2

from metrics.client.pricing import default_table
from services.kernel.config import ConfigError
from services.kernel.errors import GatewayError
from services.router.routing import RegistryHolder, load_default
from services.router.routing.capabilities import Capabilities, parse_capabilities
from services.router.routing.claims import check_claims
from services.router.routing_config import ConfigRevision, LiveRegistry, RegistryParser
from tests.router.peers import KeyVaultDouble, MetricsDouble
from tests.router.stack import (
    RouterStack,
    peers,
    provider_service,
    router_env,
    router_in_front_of,
    router_stack,
)

# The demo provider's adapter declares no logprobs.
OVERCLAIMING = """\
schema_version = 1
version = 1

[providers.mock]

[[models]]
id = "mock/greedy"
provider = "mock"
upstream_id = "echo"
capabilities = ["chat", "logprobs"]
context_window = 8192
max_output_tokens = 1024
"""
HONEST = OVERCLAIMING.replace('"chat", "logprobs"', '"chat", "streaming"')
START_BOUND_S = 60.0  # a bound on waiting for the process, not an assertion on timing


def _names_the_claim(message: str) -> None:
    assert "mock/greedy" in message
    assert "'logprobs'" in message
    assert "provider 'mock'" in message


@pytest.fixture
def overclaiming(tmp_path: Path) -> Path:
    path = tmp_path / "models.toml"
    path.write_text(OVERCLAIMING, encoding="utf-8")
    return path


async def _declared(target: str) -> dict[str, Capabilities]:
    async with grpc.aio.insecure_channel(target) as channel:
        reply = await pv_grpc.ProviderServiceStub(channel).ListProviders(
            pv_pb2.ListProvidersRequest(), timeout=10
        )
    return {p.name: frozenset(p.capabilities) for p in reply.providers}


async def test_the_shipped_registry_claims_only_what_the_adapters_declare() -> None:
    async with provider_service({}) as target:
        declared = await _declared(target)
    registry = load_default(demo=True)
    assert {m.provider for m in registry.listed} <= set(declared)
    check_claims(registry, declared)


async def test_an_overclaiming_registry_stops_the_start_up(overclaiming: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        async with router_stack({}, {"AGENTOPIA_MODELS_FILE": str(overclaiming)}):
            pytest.fail("the router must not start")
    _names_the_claim(str(caught.value))


async def test_the_process_exits_2_with_one_line_naming_the_claim(overclaiming: Path) -> None:
    keyvault, metrics = KeyVaultDouble(), MetricsDouble()
    async with (
        provider_service({}) as provider,
        peers(keyvault, metrics) as (keyvault_target, metrics_target),
    ):
        env = router_env(
            provider=provider,
            keyvault=keyvault_target,
            metrics=metrics_target,
            extra={
                "AGENTOPIA_MODELS_FILE": str(overclaiming),
                "AGENTOPIA_ROUTER_LISTEN": "127.0.0.1:0",
                "AGENTOPIA_LOG_LEVEL": "WARNING",
            },
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.router",
            env={**os.environ, **env},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await asyncio.wait_for(process.communicate(), START_BOUND_S)
    text = stderr.decode()
    assert process.returncode == 2, text
    assert "Traceback" not in text
    last = text.strip().splitlines()[-1]
    assert last.startswith("router: configuration error: ")
    _names_the_claim(last)


@pytest_asyncio.fixture(loop_scope="session")
async def stack() -> AsyncIterator[RouterStack]:
    async with router_stack({}) as running:
        yield running


async def test_an_overclaiming_edit_is_invalid_and_not_applied(stack: RouterStack) -> None:
    before = await stack.admin.GetRoutingConfig(
        ra_pb2.GetRoutingConfigRequest(), metadata=stack.admin_auth, timeout=10
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.admin.UpdateRoutingConfig(
            ra_pb2.UpdateRoutingConfigRequest(
                toml=OVERCLAIMING, expected_version=before.config.version
            ),
            metadata=stack.admin_auth,
            timeout=10,
        )
    error = GatewayError.from_rpc_error(caught.value)
    assert (error.status, error.code) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "invalid_routing_config",
    )
    _names_the_claim(error.message)
    after = await stack.admin.GetRoutingConfig(
        ra_pb2.GetRoutingConfigRequest(), metadata=stack.admin_auth, timeout=10
    )
    assert after.config.version == before.config.version
    assert stack.keyvault.revision.version == 0  # never written to the store


async def test_validation_reports_the_overclaim(stack: RouterStack) -> None:
    reply = await stack.admin.ValidateRoutingConfig(
        ra_pb2.ValidateRoutingConfigRequest(toml=OVERCLAIMING),
        metadata=stack.admin_auth,
        timeout=10,
    )
    assert not reply.valid
    _names_the_claim(reply.error)
    honest = await stack.admin.ValidateRoutingConfig(
        ra_pb2.ValidateRoutingConfigRequest(toml=HONEST), metadata=stack.admin_auth, timeout=10
    )
    assert honest.valid and honest.models == 1


def test_a_stored_overclaiming_revision_is_skipped() -> None:
    shipped = load_default(demo=True)
    revision = ConfigRevision(1, "", dt.datetime.now(dt.UTC), "")
    declared = {"mock": parse_capabilities(["chat", "streaming"])}
    parser = RegistryParser(default_table(), lambda: declared)
    live = LiveRegistry(RegistryHolder(shipped), revision, parser)
    stored = ConfigRevision(2, OVERCLAIMING, dt.datetime.now(dt.UTC), "admin")
    assert not live.apply(stored)
    assert live.revision.version == 1 and live.holder.current is shipped
    assert live.apply(ConfigRevision(3, HONEST, dt.datetime.now(dt.UTC), "admin"))
    assert live.holder.current.model("mock/greedy") is not None


async def test_an_honest_custom_registry_starts_and_is_routed_with(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(HONEST, encoding="utf-8")
    async with (
        provider_service({}) as target,
        router_in_front_of(target, {"AGENTOPIA_MODELS_FILE": str(path)}) as running,
    ):
        models = await running.deployments()
    assert [d.model for d in models] == ["mock/greedy"]
