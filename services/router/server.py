"""Composition root of the router: channels to its peers, the key cache, the
registry (priced from the shared price table, its capability claims checked
against the provider adapters), routing state, the usage recorder and the three
servicers, composed into one `Service`.

Start-up waits for the provider service's first provider list before it hands
the service back: a registry claiming a capability some provider's adapter
lacks is a configuration error, and the router exits with it instead of serving.

The provider service is reached over a channel to `AGENTOPIA_PROVIDER_TARGET`
(the `split` topology), or over a channel the caller injects together with the
provider's readiness (the `colocated` topology: `services.colocated` hosts the
provider service in this process and injects an in-process channel).
"""

from __future__ import annotations

import datetime as dt
import socket
import time
import tomllib
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

import grpc
from agentopia.v1 import inference_service_pb2_grpc as inf_grpc
from agentopia.v1 import messages_service_pb2_grpc as ms_grpc
from agentopia.v1 import openai_compat_service_pb2_grpc as oc_grpc
from agentopia.v1 import provider_service_pb2_grpc as pv_grpc
from agentopia.v1 import routing_admin_service_pb2_grpc as ra_grpc
from prometheus_client import REGISTRY, CollectorRegistry

from keyvault.client.keycache import KeyCache
from keyvault.client.limits import open_limiter
from metrics.client import UsageRecorder
from metrics.client.pricing import PriceTable, PriceTableError, default_table
from services.kernel.channels import open_channel, wait_until_serving
from services.kernel.config import ConfigError
from services.kernel.exposition import start_settings
from services.kernel.hosting import ServiceHost
from services.kernel.service import Lifecycle, Service
from services.router.admin_servicer import RoutingAdminServicer
from services.router.admission import Admission
from services.router.config import RouterConfig
from services.router.config_store import KeyVaultConfigStore
from services.router.errors import error_trailers
from services.router.health import CircuitPublisher, Probes
from services.router.inference_servicer import InferenceServicer
from services.router.instruments import GatewayInstruments
from services.router.messages_servicer import MessagesServicer
from services.router.openai_servicer import OpenAICompatServicer
from services.router.pipeline import Pipeline
from services.router.providers import ProviderDirectory
from services.router.routing import (
    HealthMonitor,
    Planner,
    RegistryError,
    RegistryHolder,
    RoutingState,
)
from services.router.routing.catalog import RegistryCatalog
from services.router.routing.claims import check_claims
from services.router.routing.loader import shipped_document
from services.router.routing_config import ConfigRevision, LiveRegistry, RegistryParser
from services.router.usage import RecordingSink

__all__ = ["compose"]


async def compose(
    config: RouterConfig,
    life: Lifecycle,
    *,
    metrics_registry: CollectorRegistry = REGISTRY,
    provider_channel: grpc.aio.Channel | None = None,
    provider_ready: Callable[[], Awaitable[None]] | None = None,
) -> Service:
    """The router, ready to serve. `metrics_registry` holds its Prometheus instruments
    (one router per registry: in-process tests give each router its own).

    `provider_channel` replaces the channel to `config.provider_target` (the caller
    owns it); the router then waits for `provider_ready` (None: nothing to wait for)
    instead of the provider's health service saying SERVING."""
    prices = _price_table(config)  # configuration first: a bad file binds nothing
    registry, revision = _initial_registry(config, RegistryParser(prices))
    # The registry in force at each call, not the first one: hence the lambda.
    instruments = GatewayInstruments(
        metrics_registry,
        model_label=lambda name: registry.current.metric_label(name),  # noqa: PLW0108
    )
    _expose(config, metrics_registry, life)
    provider_serving: Callable[[], Awaitable[None]] | None = None
    if provider_channel is None:  # split: the provider service over the network
        provider_channel = _provider_channel(config, life)
        provider_serving = partial(wait_until_serving, provider_channel)
    keyvault_channel = _keyvault_channel(config, life)
    state, circuits = _routing_state(registry, instruments)
    provider = pv_grpc.ProviderServiceStub(provider_channel)
    directory = ProviderDirectory(provider, state)
    live = LiveRegistry(registry, revision, RegistryParser(prices, directory.declared))
    recorder = _recorder(config, instruments, circuits, life)
    limiter = open_limiter(
        config.limits_redis_url,
        prefix=config.limits_prefix,
        timeout_s=config.limits_redis_timeout_s,
    )
    life.on_close(limiter.aclose)
    pipeline = Pipeline(
        provider=provider,
        registry=registry,
        state=state,
        planner=Planner(state),
        usage=RecordingSink(recorder, instruments),
        admission=Admission(limiter, prices),
        prices=prices,
    )
    life.on_close(pipeline.drain)  # closers run in reverse: settle before the recorder closes
    monitor = _monitor(config, state, Probes(provider, state))
    keys = KeyCache()
    store = KeyVaultConfigStore(keyvault_channel, watcher=socket.gethostname())
    admin = RoutingAdminServicer(keys=keys, live=live, store=store, state=state, monitor=monitor)
    host = _host(config, pipeline=pipeline, keys=keys, catalog=live.holder, admin=admin)
    life.spawn(keys.follow(keyvault_channel, watcher=socket.gethostname()), "client key watch")

    recorder.start()

    async def ready() -> None:
        # Bound and answering health checks (NOT_SERVING) while the provider service
        # is still starting; a registry claiming more than the adapters declare ends
        # the process here with one configuration error (exit 2).
        if provider_ready is not None:
            # In-process, the provider side first takes its lease: a provider with
            # leased keys only would read as unconfigured until the next list refresh.
            await provider_ready()
        await directory.first()
        _check_claims(registry, directory, config)
        life.spawn(directory.follow(), "provider list refresh")
        life.spawn(live.follow(store), "routing config watch")
        if monitor is not None:
            life.spawn(monitor.run(), "deployment health checks")
        await keys.ready.wait()
        if provider_serving is not None:
            await provider_serving()

    return Service(host, config.listen, ready=ready, grace_seconds=config.drain_grace_s)


def _host(
    config: RouterConfig,
    *,
    pipeline: Pipeline,
    keys: KeyCache,
    catalog: RegistryHolder,
    admin: RoutingAdminServicer,
) -> ServiceHost:
    models = RegistryCatalog(catalog, created=int(time.time()))
    compat = OpenAICompatServicer(
        pipeline=pipeline, keys=keys, catalog=models, max_body_bytes=config.max_body_bytes
    )
    typed = InferenceServicer(pipeline=pipeline, keys=keys, catalog=models)
    messages = MessagesServicer(pipeline=pipeline, keys=keys, max_body_bytes=config.max_body_bytes)
    host = ServiceHost(
        "router",
        max_message_bytes=config.max_body_bytes + 1024 * 1024,
        error_metadata=error_trailers,
        identity=config.identity,
    )
    host.add(
        "agentopia.v1.OpenAICompatService",
        lambda server: oc_grpc.add_OpenAICompatServiceServicer_to_server(compat, server),
    )
    host.add(
        "agentopia.v1.MessagesService",
        lambda server: ms_grpc.add_MessagesServiceServicer_to_server(messages, server),
    )
    host.add(
        "agentopia.v1.InferenceService",
        lambda server: inf_grpc.add_InferenceServiceServicer_to_server(typed, server),
    )
    host.add(
        "agentopia.v1.RoutingAdminService",
        lambda server: ra_grpc.add_RoutingAdminServiceServicer_to_server(admin, server),
    )
    return host


def _expose(config: RouterConfig, registry: CollectorRegistry, life: Lifecycle) -> None:
    exposition = start_settings(config.exposition, registry=registry)
    if exposition is not None:
        life.on_close(exposition.close)


def _provider_channel(config: RouterConfig, life: Lifecycle) -> grpc.aio.Channel:
    """To the provider service (closed after the drain)."""
    provider = open_channel(config.provider_target, identity=config.identity)
    life.on_close(lambda: provider.close(None))
    return provider


def _keyvault_channel(config: RouterConfig, life: Lifecycle) -> grpc.aio.Channel:
    """To the key vault (closed after the drain)."""
    keyvault = open_channel(config.keyvault_target, identity=config.identity)
    life.on_close(lambda: keyvault.close(None))
    return keyvault


def _routing_state(
    registry: RegistryHolder, instruments: GatewayInstruments
) -> tuple[RoutingState, CircuitPublisher]:
    """Breakers, balancers and budget, following registry swaps; circuit changes
    published to Prometheus and the live stream."""
    state = RoutingState(
        registry.current,
        on_circuit_change=lambda *change: circuits.on_change(*change),  # noqa: PLW0108 (bound below)
    )
    circuits = CircuitPublisher(state, instruments)
    registry.subscribe(state.sync)
    return state, circuits


def _recorder(
    config: RouterConfig,
    instruments: GatewayInstruments,
    circuits: CircuitPublisher,
    life: Lifecycle,
) -> UsageRecorder:
    # A target, not a traced channel: the recorder tunes its own reconnect backoff.
    recorder = UsageRecorder(
        config.metrics_target,
        instruments=instruments.recorder,
        health_source=circuits.health_report,
        identity=config.identity,
    )
    life.on_close(recorder.aclose)
    return recorder


def _price_table(config: RouterConfig) -> PriceTable:
    if not config.prices_file:
        return default_table()
    try:
        return PriceTable.load(Path(config.prices_file))
    except (OSError, PriceTableError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"AGENTOPIA_PRICES_FILE={config.prices_file}: {error}") from None


def _initial_registry(
    config: RouterConfig, parser: RegistryParser
) -> tuple[RegistryHolder, ConfigRevision]:
    """The shipped registry (plus the demo models when AGENTOPIA_DEMO is on), or
    AGENTOPIA_MODELS_FILE, until the store has a newer revision."""
    if config.models_file:
        source = config.models_file
        where = f"AGENTOPIA_MODELS_FILE={source}"
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as error:
            raise ConfigError(f"{where}: {error.strerror}") from None
    else:
        source = "models.toml + demo_models.toml" if config.demo else "models.toml"
        where = f"the shipped registry ({source})"
        text = shipped_document(demo=config.demo)
    try:
        registry = parser.parse(text, source=source)
    except RegistryError as error:
        raise ConfigError(f"{where} is invalid: {error}") from None
    revision = ConfigRevision(
        version=registry.version, toml=text, update_time=dt.datetime.now(dt.UTC), updated_by=""
    )
    return RegistryHolder(registry), revision


def _check_claims(
    registry: RegistryHolder, directory: ProviderDirectory, config: RouterConfig
) -> None:
    try:
        check_claims(registry.current, directory.declared())
    except RegistryError as error:
        where = "AGENTOPIA_MODELS_FILE" if config.models_file else "the shipped registry"
        raise ConfigError(
            f"{where} claims more than the provider adapters support: {error}"
        ) from None


def _monitor(config: RouterConfig, state: RoutingState, probes: Probes) -> HealthMonitor | None:
    if config.health_check_interval_s <= 0:
        return None
    return HealthMonitor(
        state,
        probes.check,
        self_test=probes.self_test if config.self_test_interval_s > 0 else None,
        interval_s=config.health_check_interval_s,
        self_test_interval_s=config.self_test_interval_s or 1.0,
    )
