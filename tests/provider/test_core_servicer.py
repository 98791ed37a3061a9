"""ProviderService through a real grpc.aio server on port 0 and real stubs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import orjson
import pytest
from agentopia.v1 import provider_service_pb2
from agentopia.v1.capability_pb2 import Capability
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.kernel.errors import GatewayError
from services.provider.adapters.mock import PROVIDER as MOCK
from tests.provider.core_support import SAFETY_S, Probes, Running, invocation, provider_service

CHAT = {"messages": [{"role": "user", "content": "Hello, service!"}]}


@pytest.fixture(scope="module")
def probes() -> Probes:
    return Probes(adapters={})


@pytest.fixture(scope="module")
async def service(probes: Probes) -> AsyncIterator[Running]:
    specs = [
        MOCK,
        probes.spec("probe"),
        probes.spec(
            "keyed", api_key_env="TEST_KEYED_API_KEY", default_base_url="http://127.0.0.1:9"
        ),
        probes.spec(
            "needs_key", api_key_env="TEST_NEEDS_KEY_API_KEY", default_base_url="http://127.0.0.1:9"
        ),
    ]
    env = {"TEST_KEYED_API_KEY": "sk-test-keyed-0123456789"}
    async with provider_service(specs, env) as running:
        yield running


async def rpc_error(awaitable: object) -> GatewayError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await asyncio.wait_for(awaitable, SAFETY_S)  # type: ignore[arg-type]
    return GatewayError.from_rpc_error(caught.value)


async def collect(
    service: Running, inv: provider_service_pb2.Invocation
) -> list[provider_service_pb2.StreamGenerateResponse]:
    call = service.stub.StreamGenerate(
        provider_service_pb2.StreamGenerateRequest(invocation=inv), timeout=SAFETY_S
    )
    return [message async for message in call]


async def test_health_is_serving(service: Running) -> None:
    health = health_pb2_grpc.HealthStub(service.channel)
    for name in ("", "agentopia.v1.ProviderService"):
        reply = await health.Check(health_pb2.HealthCheckRequest(service=name), timeout=SAFETY_S)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_list_providers(service: Running) -> None:
    reply = await service.stub.ListProviders(
        provider_service_pb2.ListProvidersRequest(), timeout=SAFETY_S
    )
    by_name = {p.name: p for p in reply.providers}
    assert set(by_name) == {"mock", "probe", "keyed", "needs_key"}
    mock = by_name["mock"]
    assert mock.configured
    assert {
        Capability.CAPABILITY_CHAT,
        Capability.CAPABILITY_COMPLETIONS,
        Capability.CAPABILITY_STREAMING,
        Capability.CAPABILITY_TOOLS,
        Capability.CAPABILITY_VISION,
        Capability.CAPABILITY_JSON_MODE,
    } <= set(mock.capabilities)
    assert list(mock.capabilities) == sorted(mock.capabilities)
    assert by_name["keyed"].configured
    assert by_name["keyed"].base_url == "http://127.0.0.1:9"
    assert not by_name["needs_key"].configured


async def test_generate_with_the_mock(service: Running) -> None:
    inv = invocation("mock", CHAT, model="mock/demo", response_model="my-alias")
    reply = await service.stub.Generate(
        provider_service_pb2.GenerateRequest(invocation=inv), timeout=SAFETY_S
    )
    body = orjson.loads(reply.response_json)
    assert body["object"] == "chat.completion"
    assert body["model"] == "my-alias"
    assert "Hello, service!" in body["choices"][0]["message"]["content"]
    assert reply.usage.prompt_tokens == body["usage"]["prompt_tokens"] > 0
    assert reply.usage.completion_tokens == body["usage"]["completion_tokens"] > 0
    assert reply.usage.total_tokens == body["usage"]["total_tokens"]
    assert reply.timing.total_ms > 0


async def test_generate_legacy_completions(service: Running) -> None:
    inv = invocation(
        "mock",
        {"prompt": "Once upon"},
        model="mock/demo",
        operation=provider_service_pb2.OPERATION_COMPLETIONS,
    )
    reply = await service.stub.Generate(
        provider_service_pb2.GenerateRequest(invocation=inv), timeout=SAFETY_S
    )
    assert orjson.loads(reply.response_json)["object"] == "text_completion"


async def test_unspecified_operation_means_chat(service: Running) -> None:
    inv = invocation(
        "mock", CHAT, model="mock/demo", operation=provider_service_pb2.OPERATION_UNSPECIFIED
    )
    reply = await service.stub.Generate(
        provider_service_pb2.GenerateRequest(invocation=inv), timeout=SAFETY_S
    )
    assert orjson.loads(reply.response_json)["object"] == "chat.completion"


async def test_models_fall_back_to_the_body(service: Running, probes: Probes) -> None:
    inv = invocation(
        "probe", {**CHAT, "model": "from-body"}, request_id="req-42", default_max_tokens=77
    )
    reply = await service.stub.Generate(
        provider_service_pb2.GenerateRequest(invocation=inv), timeout=SAFETY_S
    )
    call = probes.adapters["probe"].calls[-1]
    assert (call.upstream_model, call.response_model, call.request_id) == (
        "from-body",
        "from-body",
        "req-42",
    )
    assert call.default_max_tokens == 77
    assert call.credential is None
    assert orjson.loads(reply.response_json)["model"] == "from-body"
    # Timing the adapter left at zero is filled with the service's own measurement.
    assert reply.timing.total_ms > 0
    assert reply.usage.cached_tokens == 1


def events_of(message: provider_service_pb2.StreamGenerateResponse) -> list[dict[str, Any]]:
    """The chunks of one message: SSE-framed events, `data: <json>\\n\\n` each."""
    assert message.events == b"" or message.events.endswith(b"\n\n")
    return [
        orjson.loads(event.removeprefix(b"data: "))
        for event in message.events.split(b"\n\n")
        if event
    ]


async def test_stream_generate_with_usage(service: Running) -> None:
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    messages = await collect(service, invocation("mock", body, model="mock/demo"))
    *chunks, final = messages
    assert final.events == b""
    assert final.usage.total_tokens > 0
    assert final.timing.total_ms >= final.timing.first_byte_ms > 0
    parsed = [chunk for m in chunks for chunk in events_of(m)]
    assert len({c["id"] for c in parsed}) == 1
    assert parsed[0]["choices"][0]["delta"]["role"] == "assistant"
    assert parsed[-1]["choices"] == []
    assert parsed[-1]["usage"]["total_tokens"] == final.usage.total_tokens
    assert not final.HasField("usage") or final.usage.prompt_tokens > 0


async def test_stream_without_stream_end_still_closes_with_accounting(service: Running) -> None:
    messages = await collect(service, invocation("probe", {**CHAT, "mode": "no_end"}))
    assert [m.events for m in messages[:-1]] == [b'data: {"n":0}\n\n']
    assert messages[-1].HasField("usage")
    assert messages[-1].usage.total_tokens == 0


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b""])
async def test_invalid_json(service: Running, raw: bytes) -> None:
    inv = invocation("mock", raw, model="mock/demo")
    error = await rpc_error(
        service.stub.Generate(
            provider_service_pb2.GenerateRequest(invocation=inv), timeout=SAFETY_S
        )
    )
    assert (error.status, error.code) == (grpc.StatusCode.INVALID_ARGUMENT, "invalid_json")
    stream_error = await rpc_error(collect(service, inv))
    assert stream_error.code == "invalid_json"


async def test_unknown_provider(service: Running) -> None:
    inv = invocation("nope", CHAT)
    error = await rpc_error(
        service.stub.Generate(
            provider_service_pb2.GenerateRequest(invocation=inv), timeout=SAFETY_S
        )
    )
    assert (error.status, error.code) == (grpc.StatusCode.NOT_FOUND, "provider_not_found")
    assert error.metadata["provider"] == "nope"


async def test_provider_without_key(service: Running) -> None:
    inv = invocation("needs_key", CHAT, model="m")
    for attempt in (
        service.stub.Generate(
            provider_service_pb2.GenerateRequest(invocation=inv), timeout=SAFETY_S
        ),
        collect(service, inv),
    ):
        error = await rpc_error(attempt)
        assert (error.status, error.code) == (
            grpc.StatusCode.FAILED_PRECONDITION,
            "provider_not_configured",
        )
        assert "TEST_NEEDS_KEY_API_KEY" in error.message


async def test_default_credential_is_resolved(service: Running, probes: Probes) -> None:
    inv = invocation("keyed", CHAT, model="m")
    reply = await service.stub.Generate(
        provider_service_pb2.GenerateRequest(invocation=inv), timeout=SAFETY_S
    )
    assert orjson.loads(reply.response_json)["credential"] == "env:TEST_KEYED_API_KEY"
    credential = probes.adapters["keyed"].calls[-1].credential
    assert credential is not None
    assert credential.secret == "sk-test-keyed-0123456789"
    assert "sk-test" not in repr(credential)
    same = invocation("keyed", CHAT, model="m", credential_id="env:TEST_KEYED_API_KEY")
    await service.stub.Generate(
        provider_service_pb2.GenerateRequest(invocation=same), timeout=SAFETY_S
    )


async def test_unknown_credential(service: Running) -> None:
    inv = invocation("keyed", CHAT, model="m", credential_id="cred_other")
    error = await rpc_error(
        service.stub.Generate(
            provider_service_pb2.GenerateRequest(invocation=inv), timeout=SAFETY_S
        )
    )
    assert error.code == "credential_not_found"


async def test_upstream_errors_arrive_with_error_info_and_retry_info(service: Running) -> None:
    body = {**CHAT, "mock": {"fault_status": 429, "retry_after_s": 1.5}}
    inv = invocation("mock", body, model="mock/demo")
    error = await rpc_error(
        service.stub.Generate(
            provider_service_pb2.GenerateRequest(invocation=inv), timeout=SAFETY_S
        )
    )
    assert error.status == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error.code == "upstream_rate_limited"
    assert error.http_status == 429
    assert error.type == "rate_limit_error"
    assert error.retryable
    assert error.retry_after_s == pytest.approx(1.5)
    assert error.metadata["provider"] == "mock"
    assert error.metadata["upstream_status"] == "429"


async def test_auth_failure_redacts_and_maps_to_502(service: Running) -> None:
    inv = invocation("mock", {**CHAT, "mock": {"fault_status": 401}}, model="mock/demo")
    error = await rpc_error(
        service.stub.Generate(
            provider_service_pb2.GenerateRequest(invocation=inv), timeout=SAFETY_S
        )
    )
    assert (error.code, error.http_status, error.retryable) == ("provider_auth_failed", 502, False)
    assert "sk-mock" not in error.message


async def test_mid_stream_failure_after_chunks(service: Running) -> None:
    body = {**CHAT, "stream": True, "mock": {"fail_after_chunks": 2}}
    call = service.stub.StreamGenerate(
        provider_service_pb2.StreamGenerateRequest(
            invocation=invocation("mock", body, model="mock/demo")
        ),
        timeout=SAFETY_S,
    )
    received = []
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for message in call:
            received.append(message)
    assert len(received) == 2
    error = GatewayError.from_rpc_error(caught.value)
    assert (error.status, error.code, error.retryable) == (
        grpc.StatusCode.UNAVAILABLE,
        "upstream_server_error",
        True,
    )


async def test_adapter_bug_is_an_internal_error_with_the_request_id(service: Running) -> None:
    inv = invocation("probe", {**CHAT, "mode": "boom"})
    quoted = (("x-request-id", "req-quote-me"),)
    error = await rpc_error(
        service.stub.Generate(
            provider_service_pb2.GenerateRequest(invocation=inv), timeout=SAFETY_S, metadata=quoted
        )
    )
    assert (error.status, error.code) == (grpc.StatusCode.INTERNAL, "internal_error")
    assert "req-quote-me" in error.message
    assert "adapter bug" not in error.message
    stream_error = await rpc_error(collect(service, inv))
    assert stream_error.code == "internal_error"


@pytest.mark.parametrize("mode", ["forever", "flood"])
async def test_cancelling_a_stream_closes_the_adapter(
    service: Running, probes: Probes, mode: str
) -> None:
    inv = invocation("probe", {**CHAT, "mode": mode})
    call = service.stub.StreamGenerate(
        provider_service_pb2.StreamGenerateRequest(invocation=inv), timeout=SAFETY_S
    )
    first = await call.read()
    assert events_of(first)[0]["n"] == 0
    adapter = probes.adapters["probe"]
    call.cancel()
    await asyncio.wait_for(adapter.closed.wait(), SAFETY_S)
    assert call.cancelled()


async def test_cancelling_a_mock_stream_ends_it(service: Running) -> None:
    body = {**CHAT, "stream": True, "mock": {"chunk_delay_ms": 5000}}
    call = service.stub.StreamGenerate(
        provider_service_pb2.StreamGenerateRequest(
            invocation=invocation("mock", body, model="mock/demo")
        ),
        timeout=SAFETY_S,
    )
    await call.read()  # the next chunk comes only after the delay: the mock is mid-stream
    adapter = service.runtime.get("mock").adapter
    assert adapter.active_streams == 1  # type: ignore[attr-defined]
    call.cancel()

    async def ended() -> None:
        while adapter.active_streams:  # type: ignore[attr-defined]
            await asyncio.sleep(0.01)

    await asyncio.wait_for(ended(), SAFETY_S)
