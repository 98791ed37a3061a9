"""Service settings from the environment: which providers are served, and each
registered provider's own settings by the names its spec declares."""

from __future__ import annotations

import pytest

from services.kernel.config import ConfigError
from services.provider.config import ProviderServiceConfig
from services.provider.provider_spec import ProviderSpec
from services.provider.registry import DEMO_PROVIDERS, PROVIDERS, find, registered
from services.provider.settings import Timeouts
from services.provider.vocabulary import Vocabulary


def _factory(config: object, http: object) -> object:
    raise AssertionError("not built in config tests")


KEYED = ProviderSpec(
    name="acme",
    factory=_factory,  # type: ignore[arg-type]
    api_key_env="ACME_API_KEY",
    base_url_env="ACME_BASE_URL",
    default_base_url="https://api.acme.test/v1/",
    options_prefix="ACME_OPT_",
    vocabulary=Vocabulary(key_prefixes=("acme-",)),
)
KEYLESS = ProviderSpec(name="local", factory=_factory)  # type: ignore[arg-type]


def test_defaults() -> None:
    config = ProviderServiceConfig.from_env({}, specs=[KEYED, KEYLESS])
    assert config.listen == "127.0.0.1:50052"
    assert config.providers["acme"].base_url == "https://api.acme.test/v1"
    assert not config.providers["acme"].configured
    assert config.providers["local"].configured
    assert not config.providers["local"].uses_http
    assert config.providers["acme"].timeouts == Timeouts()


def test_overrides() -> None:
    env = {
        "AGENTOPIA_PROVIDER_LISTEN": "0.0.0.0:6000",
        "ACME_API_KEY": " sk-acme-123456 ",
        "ACME_BASE_URL": "http://127.0.0.1:8999/v1",
        "ACME_OPT_SPEED": "fast",
        "AGENTOPIA_UPSTREAM_CONNECT_TIMEOUT_S": "1.5",
        "AGENTOPIA_UPSTREAM_FIRST_BYTE_TIMEOUT_S": "30",
        "AGENTOPIA_UPSTREAM_TOTAL_TIMEOUT_S": "90",
        "AGENTOPIA_UPSTREAM_STREAM_IDLE_TIMEOUT_S": "15",
        "AGENTOPIA_UPSTREAM_MAX_CONNECTIONS": "8",
        "AGENTOPIA_UPSTREAM_KEEPALIVE_S": "12",
    }
    config = ProviderServiceConfig.from_env(env, specs=[KEYED])
    acme = config.providers["acme"]
    assert config.listen == "0.0.0.0:6000"
    assert acme.api_key == "sk-acme-123456"
    assert acme.configured
    assert acme.base_url == "http://127.0.0.1:8999/v1"
    assert dict(acme.options) == {"ACME_OPT_SPEED": "fast"}
    assert acme.timeouts == Timeouts(connect_s=1.5, first_byte_s=30, total_s=90, stream_idle_s=15)
    assert (acme.pool.max_connections, acme.pool.keepalive_s) == (8, 12.0)
    assert "sk-acme" not in repr(config)


@pytest.mark.parametrize(
    "env",
    [
        {"ACME_BASE_URL": "api.acme.test"},
        {"AGENTOPIA_UPSTREAM_TOTAL_TIMEOUT_S": "soon"},
        {"AGENTOPIA_UPSTREAM_MAX_CONNECTIONS": "0"},
    ],
)
def test_bad_values_fail_fast(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        ProviderServiceConfig.from_env(env, specs=[KEYED])


def test_duplicate_names_are_rejected() -> None:
    with pytest.raises(ConfigError):
        ProviderServiceConfig.from_env({}, specs=[KEYED, KEYED])


def test_registry_names_are_unique() -> None:
    names = [spec.name for spec in registered(demo=True)]
    assert len(names) == len(set(names))
    assert find("nope") is None
    assert all(find(name) is not None for name in names)


def test_development_providers_only_with_the_demo_switch() -> None:
    production = ProviderServiceConfig.from_env({})
    assert not production.demo
    assert {spec.name for spec in production.specs} == {spec.name for spec in PROVIDERS}
    demo = ProviderServiceConfig.from_env({"AGENTOPIA_DEMO": "true"})
    assert demo.demo
    assert set(demo.providers) == {spec.name for spec in (*DEMO_PROVIDERS, *PROVIDERS)}
    assert all(demo.providers[spec.name].configured for spec in DEMO_PROVIDERS)
    with pytest.raises(ConfigError, match="AGENTOPIA_DEMO"):
        ProviderServiceConfig.from_env({"AGENTOPIA_DEMO": "perhaps"})


def test_the_redactor_knows_every_served_providers_key_shape() -> None:
    config = ProviderServiceConfig.from_env({}, specs=[KEYED, KEYLESS])
    redactor = config.providers["local"].redactor
    assert redactor is config.providers["acme"].redactor
    assert redactor.redact("echoed acme-0123456789 back") == "echoed [REDACTED] back"
