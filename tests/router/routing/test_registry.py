from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import grpc
import pytest

from metrics.client.pricing import default_table
from services.kernel.errors import GatewayError
from services.provider.client import ALL_CAPABILITIES, SHORT_NAMES
from services.router.routing.capabilities import MULTIPLE_CHOICES, VISION, parse_capabilities
from services.router.routing.catalog import RegistryCatalog
from services.router.routing.loader import RegistryError, load_default, parse_registry
from services.router.routing.registry import RegistryHolder, ResolutionKind
from tests.router.routing.helpers import HEADER, caps, model_toml, price_table, registry_from


@pytest.fixture(scope="module")
def shipped():
    return load_default()


@pytest.fixture(scope="module")
def demo():
    return load_default(demo=True)


def test_registry_spells_capabilities_as_the_proto_enum_does():
    assert parse_capabilities(SHORT_NAMES) == ALL_CAPABILITIES
    assert parse_capabilities(["n"]) == parse_capabilities(["multiple_choices"])
    registry = registry_from(model_toml("m1", caps=("chat", "n", "vision")))
    assert registry.model("m1").capabilities == caps("chat", "multiple_choices", "vision")


def test_shipped_registry_is_production_models_only(shipped):
    providers = {m.provider for m in shipped.listed}
    assert providers == {"openai", "anthropic", "groq"}
    assert set(shipped.providers) == providers
    assert shipped.schema_version == 1 and shipped.version >= 1
    assert not any(name.startswith("demo") for name in shipped.aliases)
    for model in shipped.listed:
        assert model.context_window and model.max_output_tokens, model.id
        assert model.latency_ms is not None, model.id


def test_the_demo_switch_adds_the_mock_models_and_aliases(shipped, demo):
    added = {m.id for m in demo.listed} - {m.id for m in shipped.listed}
    assert added == {
        "mock/echo",
        "mock/large",
        "mock/flaky",
        "mock/slow",
        "mock/broken",
        "mock/embed",
    }
    assert {m.provider for m in demo.listed if m.id in added} == {"mock"}
    assert set(demo.aliases) - set(shipped.aliases) == {"demo-failover", "demo-outage"}
    assert all(not m.auto for m in demo.listed if m.id in added)


def test_every_shipped_model_has_a_price_in_the_one_price_table(demo):
    """The registry holds no prices: each deployment is priced (for admission, `auto`
    and billing alike) by metrics/client/pricing/prices.toml, which must know it."""
    table = default_table()
    for model in demo.listed:
        assert model.pricing.known, model.id
        assert model.pricing.source, model.id
        for deployment in model.deployments:
            at = dt.datetime.now(dt.UTC)
            entry = table.lookup(deployment.provider, deployment.upstream_id, at)
            assert entry is not None, (
                f"{deployment.id}: {deployment.provider}/{deployment.upstream_id}"
            )


def test_prices_come_from_the_price_table_not_the_registry():
    prices = price_table({("openai", "m1"): (2.5, 10.0)})
    registry = registry_from(model_toml("m1"), model_toml("m2"), prices=prices)
    assert (registry.model("m1").pricing.input, registry.model("m1").pricing.output) == (2.5, 10.0)
    assert registry.model("m2").pricing.input == 1.0  # the provider's `*` entry
    with pytest.raises(RegistryError, match="price: unknown field"):
        parse_registry(HEADER + model_toml("m1", extra="price = { input = 1.0, output = 2.0 }\n"))


def test_a_model_the_table_does_not_price_is_unpriced_not_free():
    registry = parse_registry(HEADER + model_toml("m1", "groq"), prices=price_table())
    assert registry.model("m1").pricing.known  # groq's test `*` entry
    unpriced = parse_registry(HEADER + model_toml("nobody-prices-me"), prices=default_table())
    pricing = unpriced.model("nobody-prices-me").pricing
    assert not pricing.known and pricing.input is None and "unpriced" in pricing.source
    assert pricing.estimate_usd(1000, 1000) is None


def test_shipped_aliases_resolve_to_ordered_chains(shipped):
    assert set(shipped.aliases) >= {"fast", "smart", "cheap"}
    fast = shipped.resolve("fast")
    assert fast.kind is ResolutionKind.ALIAS
    assert fast.models[0].id == "llama-3.1-8b-instant"
    assert len({m.provider for m in shipped.resolve("smart").models}) >= 2


def test_demo_models_stay_out_of_auto(shipped, demo):
    auto = demo.resolve("auto")
    assert auto.kind is ResolutionKind.AUTO
    assert all(m.provider != "mock" for m in auto.models)
    assert [m.id for m in auto.models] == [m.id for m in shipped.resolve("auto").models]
    assert len(auto.models) >= 10


def test_resolve_explicit_model(shipped):
    found = shipped.resolve("claude-haiku-4-5")
    assert found.kind is ResolutionKind.MODEL
    assert found.models[0].upstream_id == "claude-haiku-4-5-20251001"


def test_provider_slash_listed_upstream_is_the_listed_model(shipped):
    found = shipped.resolve("anthropic/claude-haiku-4-5-20251001")
    assert found.kind is ResolutionKind.MODEL
    assert found.models[0].id == "claude-haiku-4-5"
    assert shipped.resolve("groq/openai/gpt-oss-120b").models[0].id == "gpt-oss-120b"


def test_passthrough_synthesizes_an_unknown_model(shipped):
    found = shipped.resolve("openai/gpt-9-preview")
    assert found.kind is ResolutionKind.PASSTHROUGH
    model = found.models[0]
    assert model.synthetic and model.upstream_id == "gpt-9-preview"
    assert model.capabilities is None and model.context_window is None
    assert not model.pricing.known
    assert model.supports(VISION) and model.supports(MULTIPLE_CHOICES)
    assert (model.deployments[0].timeout_s, model.deployments[0].total_timeout_s) == (60.0, 600.0)


@pytest.mark.parametrize("name", ["nope", "unknownprovider/x", "openai/", "openai/bad id", ""])
def test_unknown_names_are_404_model_not_found(shipped, name):
    with pytest.raises(GatewayError) as info:
        shipped.resolve(name)
    assert info.value.status == grpc.StatusCode.NOT_FOUND
    assert info.value.code == "model_not_found" and info.value.http_status == 404


def test_passthrough_can_be_disabled_per_provider():
    text = HEADER.replace("[providers.groq]", "[providers.groq]\npassthrough = false")
    registry = parse_registry(text + model_toml("m1"))
    with pytest.raises(GatewayError):
        registry.resolve("groq/llama-9")
    assert registry.resolve("openai/whatever").kind is ResolutionKind.PASSTHROUGH


@pytest.mark.parametrize(
    ("scopes", "model", "allowed"),
    [
        ((), "gpt-4o", True),
        (("*",), "gpt-4o", True),
        (("gpt-4o",), "gpt-4o", True),
        (("gpt-4o",), "gpt-4o-mini", False),
        (("fast",), "llama-3.1-8b-instant", True),
        (("fast",), "gpt-4o", False),
        (("openai/*",), "gpt-4.1", True),
        (("openai/*",), "claude-haiku-4-5", False),
        (("openai/*",), "openai/gpt-9", True),
        (("openai/gpt-9",), "openai/gpt-9", True),
    ],
)
def test_allowed_scopes(shipped, scopes, model, allowed):
    target = shipped.model(model) or model
    assert shipped.allowed(frozenset(scopes), target) is allowed


def test_visible_models_and_aliases(shipped):
    assert len(shipped.visible_models(())) == len(shipped.listed)
    visible = shipped.visible_models(frozenset({"fast"}))
    assert {m.id for m in visible} == set(shipped.aliases["fast"].chain)
    assert {a.name for a in shipped.visible_aliases(frozenset({"fast"}))} >= {"fast"}


def test_default_deployment_when_none_listed():
    registry = registry_from(model_toml("m1"))
    (dep,) = registry.model("m1").deployments
    assert (dep.id, dep.provider, dep.upstream_id, dep.weight) == ("m1", "openai", "m1", 1)


def test_deployments_inherit_and_override():
    deps = (
        '[[models.deployments]]\nid = "a"\nweight = 3\nregion = "eu"\n'
        '[[models.deployments]]\nid = "b"\nprovider = "groq"\nupstream_id = "other"\n'
        "timeout_s = 5\n"
    )
    registry = registry_from(model_toml("m1", deployments=deps))
    a, b = registry.model("m1").deployments
    assert (a.provider, a.upstream_id, a.weight, a.region) == ("openai", "m1", 3, "eu")
    assert (b.provider, b.upstream_id, b.timeout_s) == ("groq", "other", 5.0)
    assert set(registry.deployments) == {"a", "b"}


BAD = [
    (model_toml("m1", extra="wieght = 3\n"), "models[0].wieght: unknown field"),
    (model_toml("m1") + model_toml("m1"), "duplicate model id 'm1'"),
    (
        model_toml("m1", deployments='[[models.deployments]]\nid = "d"\n')
        + model_toml("m2", deployments='[[models.deployments]]\nid = "d"\n'),
        "duplicate deployment id 'd'",
    ),
    (model_toml("m1", provider="azure"), "provider 'azure' is not declared"),
    (model_toml("m1", caps=("chat", "telepathy")), "capabilities: unknown capability 'telepathy'"),
    (model_toml("m1", fallbacks=("ghost",)), "fallbacks[0]: unknown model 'ghost'"),
    (model_toml("m1", fallbacks=("m1",)), "names itself"),
    (model_toml("auto"), "'auto' is reserved"),
    (model_toml("bad id"), "is not a valid id"),
    (model_toml("m1", window=0), "context_window: must be an integer >= 1"),
    (model_toml("m1", extra='balancer = "random"\n'), "balancer: must be one of"),
    (model_toml("m1", deployments='[[models.deployments]]\nid = "d"\nweight = 0\n'), "weight"),
    (model_toml("m1", deployments='[[models.deployments]]\nid = "d"\ntimeout_s = 0\n'), "> 0"),
    (model_toml("m1") + '[aliases.fast]\nchain = ["ghost"]\n', "aliases.fast.chain[0]: unknown"),
    (model_toml("m1") + '[aliases.m1]\nchain = ["m1"]\n', "collides"),
    (model_toml("m1") + "[aliases.fast]\nchain = []\n", "at least one model"),
    (model_toml("m1") + '[aliases.fast]\nchain = ["m1", "m1"]\n', "twice"),
    (model_toml("m1") + '[aliases.fast]\nchain = ["m1"]\ncolor = "red"\n', "aliases.fast.color"),
]


@pytest.mark.parametrize(("body", "message"), BAD)
def test_invalid_configs_name_the_field(body, message):
    with pytest.raises(RegistryError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_registry(HEADER + body)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("schema_version = 2\nversion = 1\n", "schema_version: 2 is not supported"),
        ("version = 1\n", "schema_version: required field is missing"),
        ("schema_version = 1\nversion = 1\n[providers]\n", "declare at least one provider"),
        ("schema_version = 1\nversion = 1\n[providers.openai]\nmodels = []\n", "unknown field"),
        ("schema_version = 1\nversion = 1 2\n", "invalid TOML"),
        (HEADER + "colour = 1\nmodels = []\n", "colour: unknown field"),
    ],
)
def test_invalid_top_level(text, message):
    with pytest.raises(RegistryError, match=message):
        parse_registry(text)


def test_version_override_for_admin_edits():
    text = HEADER + model_toml("m1")
    assert parse_registry(text).version == 1
    assert parse_registry(text, version=42).version == 42


def test_holder_swaps_only_newer_versions_and_notifies():
    seen = []
    holder = RegistryHolder(registry_from(model_toml("m1"), version=1))
    holder.subscribe(lambda r: seen.append(r.version))
    assert not holder.swap(registry_from(model_toml("m2"), version=1))
    assert holder.current.model("m1") is not None
    assert holder.swap(registry_from(model_toml("m2"), version=2))
    assert holder.version == 2 and holder.current.model("m2") is not None
    assert not holder.swap(registry_from(model_toml("m3"), version=1))
    assert seen == [2]


def test_pricing_estimate():
    prices = price_table({("openai", "m1"): (2.0, 8.0)})
    model = registry_from(model_toml("m1"), prices=prices).model("m1")
    assert model.pricing.estimate_usd(1_000_000, 500_000) == pytest.approx(6.0)


@dataclass
class Key:
    allowed_models: frozenset[str]


def test_catalog_lists_what_the_key_may_use(shipped):
    catalog = RegistryCatalog(RegistryHolder(shipped), created=1700000000)
    everything = catalog.list_models(Key(frozenset()))
    models = [m for m in everything if m["owned_by"] != "agentopia"]
    aliases = [m["id"] for m in everything if m["owned_by"] == "agentopia"]
    assert len(models) == len(shipped.listed)
    assert sorted(aliases) == sorted(shipped.aliases)
    fast = catalog.list_models(Key(frozenset({"fast"})))
    assert [m["id"] for m in fast if m["owned_by"] != "agentopia"] == [
        m.id for m in shipped.listed if m.id in shipped.aliases["fast"].chain
    ]
    assert "fast" in [m["id"] for m in fast]
    alias = catalog.get_model("fast", Key(frozenset()))
    assert alias is not None and alias["upstream_model"].startswith("llama")
    entry = catalog.get_model("gpt-4o-mini", Key(frozenset()))
    assert entry["object"] == "model" and entry["owned_by"] == "openai"
    assert entry["context_window"] == 128000 and entry["pricing"]["input"] == 0.15
    assert "vision" in entry["capabilities"] and "multiple_choices" in entry["capabilities"]
    assert catalog.get_model("gpt-4o", Key(frozenset({"fast"}))) is None
    assert catalog.get_model("nope", Key(frozenset())) is None
