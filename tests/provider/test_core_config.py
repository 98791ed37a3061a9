"""Service settings from the environment, per registered provider spec."""

from __future__ import annotations

import pytest

from services.kernel.config import ConfigError
from services.provider.config import ServiceConfig, Timeouts
from services.provider.provider_spec import ProviderSpec
from services.provider.registry import PROVIDERS, find


def _factory(config: object, http: object) -> object:
    raise AssertionError("not built in config tests")


KEYED = ProviderSpec(
    name="acme",
    factory=_factory,  # type: ignore[arg-type]
    api_key_env="ACME_API_KEY",
    base_url_env="ACME_BASE_URL",
    default_base_url="https://api.acme.test/v1/",
    options_prefix="ACME_OPT_",
)
KEYLESS = ProviderSpec(name="local", factory=_factory)  # type: ignore[arg-type]


def test_defaults() -> None:
    config = ServiceConfig.from_env([KEYED, KEYLESS], {})
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
    config = ServiceConfig.from_env([KEYED], env)
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
        ServiceConfig.from_env([KEYED], env)


def test_duplicate_names_are_rejected() -> None:
    with pytest.raises(ConfigError):
        ServiceConfig.from_env([KEYED, KEYED], {})


def test_registry_names_are_unique_and_mock_is_there() -> None:
    names = [spec.name for spec in PROVIDERS]
    assert len(names) == len(set(names))
    assert find("mock") is not None
    assert find("nope") is None
    config = ServiceConfig.from_env(PROVIDERS, {})
    assert config.providers["mock"].configured
