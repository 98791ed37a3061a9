"""A registry's capability claims against what each provider's adapter declares."""

from __future__ import annotations

import pytest

from services.router.routing.claims import check_claims, overclaims
from services.router.routing.loader import RegistryError
from tests.router.routing.helpers import caps, model_toml, registry_from

DEPLOYMENTS = (
    '[[models.deployments]]\nid = "on-openai"\n'
    '[[models.deployments]]\nid = "on-groq"\nprovider = "groq"\n'
)


def test_claims_within_every_adapter_pass():
    registry = registry_from(model_toml("m1", caps=("chat", "tools")))
    check_claims(registry, {"openai": caps("chat", "streaming", "tools")})


def test_a_claim_beyond_the_adapter_names_model_deployment_capability_and_provider():
    registry = registry_from(model_toml("m1", "groq", caps=("chat", "logprobs")))
    with pytest.raises(RegistryError) as caught:
        check_claims(registry, {"groq": caps("chat", "streaming")})
    message = str(caught.value)
    assert "model 'm1' (deployment 'm1')" in message
    assert "'logprobs'" in message and "provider 'groq'" in message
    assert "chat, streaming" in message  # what the adapter does declare


def test_each_deployment_is_judged_by_its_own_provider():
    registry = registry_from(model_toml("m1", caps=("chat", "vision"), deployments=DEPLOYMENTS))
    found = list(overclaims(registry, {"openai": caps("chat", "vision"), "groq": caps("chat")}))
    assert [(o.deployment, o.provider) for o in found] == [("on-groq", "groq")]
    assert found[0].capability in caps("vision")


def test_every_overclaim_is_counted_in_the_one_error():
    registry = registry_from(
        model_toml("m1", caps=("chat", "vision", "logprobs")), model_toml("m2", caps=("tools",))
    )
    with pytest.raises(RegistryError, match=r"\(and 2 more\)"):
        check_claims(registry, {"openai": caps("chat")})


def test_providers_the_provider_service_does_not_know_are_not_judged():
    registry = registry_from(model_toml("m1", "anthropic", caps=("chat", "vision")))
    assert list(overclaims(registry, {"openai": caps("chat")})) == []
