"""The mock provider: injected faults, settings layers, pacing, registration."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import orjson
import pytest

from services.kernel.config import ConfigError
from services.kernel.errors import GatewayError
from services.provider.adapters.base import Capability, Chunk, Result, StreamEnd
from services.provider.adapters.mock import PROVIDER, MockProfiles, build
from services.provider.adapters.mock.content import split_words
from services.provider.adapters.mock.faults import VOCABULARY
from services.provider.adapters.mock.settings import SettingsError
from services.provider.http import DisabledHttp
from services.provider.settings import ProviderConfig, Timeouts
from services.provider.vocabulary import rule_for
from tests.provider.mock_support import USER, WEATHER, drain, fails, make_call, mock


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "messages"),
        ({"messages": []}, "messages"),
        ({"messages": ["text"]}, "messages"),
        ({"messages": [USER], "n": 0}, "n"),
        ({"messages": [USER], "max_tokens": -1}, "max_tokens"),
        ({"messages": [USER], "tools": [{"type": "function"}]}, "tool_choice"),
        (
            {
                "messages": [USER],
                "tools": [WEATHER],
                "tool_choice": {"type": "function", "function": {"name": "x"}},
            },
            "tool_choice",
        ),
        ({"messages": [USER], "mock": {"latency": 5}}, "mock"),
        ({"messages": [USER], "mock": {"fault_status": 200}}, "mock"),
        ({"messages": [USER], "mock": {"fault_rate": 2}}, "mock"),
        ({"messages": [USER], "mock": "fast"}, "mock"),
    ],
)
async def test_invalid_requests_are_upstream_400s(body: dict[str, Any], param: str) -> None:
    error = await fails(mock().generate(make_call(body)))
    assert (error.code, error.status, error.param) == (
        "upstream_bad_request",
        grpc.StatusCode.INVALID_ARGUMENT,
        param,
    )
    assert error.metadata["provider"] == "mock"


STATUSES = [400, 401, 403, 404, 408, 409, 413, 422, 429, 500, 502, 503, 504, 529]


@pytest.mark.parametrize("status", STATUSES)
async def test_fault_status_gives_the_canonical_error(status: int) -> None:
    body = {"messages": [USER], "mock": {"fault_status": status}}
    error = await fails(mock().generate(make_call(body)))
    rule = rule_for(status, "overloaded_error" if status == 529 else "", vocabulary=VOCABULARY)
    assert (error.code, error.status, error.retryable) == (rule.code, rule.status, rule.retryable)
    assert error.metadata["upstream_status"] == str(status)
    stream_error = await fails(drain(mock().stream(make_call({**body, "stream": True}))))
    assert stream_error.code == rule.code


async def test_fault_rate_deterministic_sequence() -> None:
    adapter = mock()
    body = {"messages": [USER], "mock": {"fault_status": 503, "fault_rate": 0.5}}
    outcomes = []
    for _ in range(6):
        try:
            await adapter.generate(make_call(body))
            outcomes.append("ok")
        except GatewayError:
            outcomes.append("fault")
    assert outcomes == ["fault", "ok"] * 3


async def test_fault_rate_seeded_random_is_reproducible() -> None:
    body = {"messages": [USER], "mock": {"fault_status": 500, "fault_rate": 0.3, "fault_seed": 7}}

    async def run() -> list[bool]:
        adapter = mock()
        results = []
        for _ in range(20):
            try:
                await adapter.generate(make_call(body))
                results.append(True)
            except GatewayError:
                results.append(False)
        return results

    first, second = await run(), await run()
    assert first == second
    assert 0 < first.count(False) < 20


async def test_hang_becomes_the_first_byte_timeout() -> None:
    adapter = mock(timeouts=Timeouts(first_byte_s=0.01))
    error = await fails(adapter.generate(make_call({"messages": [USER], "mock": {"hang": True}})))
    assert (error.code, error.status) == ("upstream_timeout", grpc.StatusCode.DEADLINE_EXCEEDED)
    assert error.retryable


async def test_mid_stream_failure_after_n_chunks() -> None:
    body = {"messages": [USER], "stream": True, "mock": {"fail_after_chunks": 3}}
    received: list[Chunk | StreamEnd] = []
    with pytest.raises(GatewayError) as caught:
        async for item in mock().stream(make_call(body)):
            received.append(item)
    assert len(received) == 3
    assert caught.value.code == "upstream_server_error"
    # A non-streamed call is not affected by a mid-stream fault.
    assert isinstance(await mock().generate(make_call(body)), Result)
    overloaded = {
        "messages": [USER],
        "stream": True,
        "mock": {"fail_after_chunks": 1, "fault_status": 529},
    }
    error = await fails(drain(mock().stream(make_call(overloaded))))
    assert error.code == "upstream_overloaded"


async def test_profiles_builtin_env_and_request_layers() -> None:
    profiles = {
        "AGENTOPIA_MOCK_REPLY": "env reply",
        "AGENTOPIA_MOCK_PROFILES": orjson.dumps(
            {"mock/custom": {"reply": "custom reply"}, "flaky": {"fault_status": 502}}
        ).decode(),
    }
    adapter = mock(profiles)
    plain = await adapter.generate(make_call({"messages": [USER]}, model="mock/anything"))
    assert plain.body["choices"][0]["message"]["content"] == "env reply"
    custom = await adapter.generate(make_call({"messages": [USER]}, model="custom"))
    assert custom.body["choices"][0]["message"]["content"] == "custom reply"
    override = await adapter.generate(
        make_call({"messages": [USER], "mock": {"reply": "req"}}, model="mock/custom")
    )
    assert override.body["choices"][0]["message"]["content"] == "req"
    flaky = await fails(adapter.generate(make_call({"messages": [USER]}, model="mock/flaky")))
    assert flaky.code == "upstream_bad_gateway"
    broken = await fails(adapter.generate(make_call({"messages": [USER]}, model="mock/broken")))
    assert broken.code == "upstream_server_error"
    limited = await fails(
        adapter.generate(make_call({"messages": [USER]}, model="mock/ratelimited"))
    )
    assert limited.retry_after_s == 1.0
    healed = await adapter.generate(
        make_call({"messages": [USER], "mock": {"fault_rate": 0}}, model="mock/broken")
    )
    assert healed.body["object"] == "chat.completion"


@pytest.mark.parametrize(
    "env",
    [
        {"AGENTOPIA_MOCK_LATENCY_MS": "-1"},
        {"AGENTOPIA_MOCK_FAULT_RATE": "lots"},
        {"AGENTOPIA_MOCK_HANG": "maybe"},
        {"AGENTOPIA_MOCK_PROFILES": "{nope"},
        {"AGENTOPIA_MOCK_PROFILES": "[1]"},
        {"AGENTOPIA_MOCK_PROFILES": '{"x": {"bogus": 1}}'},
    ],
)
def test_bad_settings_fail_fast(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        MockProfiles.from_env(env)


def test_env_defaults_are_parsed() -> None:
    profiles = MockProfiles.from_env(
        {
            "AGENTOPIA_MOCK_LATENCY_MS": "5",
            "AGENTOPIA_MOCK_HANG": "false",
            "AGENTOPIA_MOCK_FAULT_SEED": "",
        }
    )
    assert profiles.defaults.latency_ms == 5.0
    assert profiles.defaults.hang is False
    assert profiles.defaults.fault_seed is None
    assert profiles.for_model("mock/unknown") is profiles.defaults


async def test_zero_latency_never_sleeps(monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_sleep(delay: float, result: Any = None) -> None:
        raise AssertionError(f"slept {delay}")

    adapter = mock()
    monkeypatch.setattr(asyncio, "sleep", no_sleep)
    await adapter.generate(make_call({"messages": [USER]}))
    await drain(adapter.stream(make_call({"messages": [USER], "stream": True, "n": 2})))


async def test_latency_and_pacing_sleep_as_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def record(delay: float, result: Any = None) -> None:
        slept.append(delay)

    monkeypatch.setattr(asyncio, "sleep", record)
    body = {"messages": [USER], "stream": True, "mock": {"latency_ms": 250, "chunk_delay_ms": 20}}
    chunks, _ = await drain(mock().stream(make_call(body)))
    assert slept[0] == 0.25
    assert slept[1:] == [0.02] * (len(chunks) - 1)


async def test_closing_a_stream_early_is_tracked() -> None:
    adapter = mock()
    stream = adapter.stream(make_call({"messages": [USER], "stream": True}))
    await stream.__anext__()
    assert adapter.active_streams == 1
    await stream.aclose()  # type: ignore[attr-defined]
    assert adapter.active_streams == 0


def test_registry_entry() -> None:
    assert PROVIDER.name == "mock"
    assert PROVIDER.api_key_env is None
    adapter = build(ProviderConfig(name="mock", requires_key=False), DisabledHttp("mock"))
    assert adapter.name == "mock"
    assert Capability.CAPABILITY_TOOLS in adapter.capabilities


@pytest.mark.parametrize(
    ("text", "n", "pieces"),
    [
        ("a b c", 1, ["a ", "b ", "c"]),
        ("a b c", 2, ["a b ", "c"]),
        ("  lead  trail  ", 1, ["  lead  ", "trail  "]),
        ("", 1, []),
    ],
)
def test_split_words_is_exact(text: str, n: int, pieces: list[str]) -> None:
    assert split_words(text, n) == pieces
    assert "".join(split_words(text, n)) == text


def test_by_model_overrides_apply_to_their_model_only() -> None:
    profiles = MockProfiles.from_env({})
    knobs = {"latency_ms": 2, "by_model": {"primary": {"fault_status": 503}}}
    assert profiles.resolve("mock/primary", knobs).fault_status == 503
    assert profiles.resolve("mock/primary", knobs).latency_ms == 2
    assert profiles.resolve("mock/backup", knobs).fault_status == 0
    with pytest.raises(SettingsError):
        profiles.resolve("mock/primary", {"by_model": {"primary": 1}})
