"""Issue 2's promises, end to end: the official OpenAI SDK and a typed gRPC stub
through the real Envoy edge, in front of the four services as separate processes."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import grpc
import openai
import pytest
from agentopia.v1 import chat_pb2, inference_service_pb2, inference_service_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.e2e.conftest import ROUTER_BODY_LIMIT, Edge

pytestmark = pytest.mark.e2e

HELLO = [{"role": "user", "content": "Hello there, gateway"}]


def test_chat_completion_non_streaming(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="mock/echo", messages=HELLO)  # type: ignore[arg-type]
    assert reply.object == "chat.completion"
    assert reply.model == "mock/echo"
    assert isinstance(reply.created, int)
    assert reply.choices[0].finish_reason == "stop"
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].message.content
    assert reply.usage is not None and reply.usage.prompt_tokens > 0


def test_streaming_yields_chunks_then_done_with_same_text(client: openai.OpenAI) -> None:
    whole = client.chat.completions.create(model="mock/echo", messages=HELLO)  # type: ignore[arg-type]
    stream = client.chat.completions.create(
        model="mock/echo",
        messages=HELLO,  # type: ignore[arg-type]
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert len(chunks) > 2
    assert len({chunk.id for chunk in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert chunks[-1].choices == [] and chunks[-1].usage is not None


def test_stream_helper_accumulates(client: openai.OpenAI) -> None:
    with client.chat.completions.stream(model="mock/echo", messages=HELLO) as stream:  # type: ignore[arg-type]
        final = stream.get_final_completion()
    assert final.choices[0].message.content


def test_legacy_completions(client: openai.OpenAI) -> None:
    reply = client.completions.create(model="mock/echo", prompt="Say something")
    assert reply.object == "text_completion"
    assert reply.choices[0].text
    chunks = list(client.completions.create(model="mock/echo", prompt="Say", stream=True))
    assert (
        "".join(c.choices[0].text for c in chunks if c.choices)
        == client.completions.create(model="mock/echo", prompt="Say").choices[0].text
    )


def test_models_list_and_get(client: openai.OpenAI) -> None:
    ids = {model.id for model in client.models.list()}
    assert "mock/echo" in ids
    assert client.models.retrieve("mock/echo").id == "mock/echo"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("mock/does-not-exist-anywhere")


def test_typed_grpc_through_the_edge_matches_rest(edge: Edge, client: openai.OpenAI) -> None:
    rest = client.chat.completions.create(model="mock/echo", messages=HELLO)  # type: ignore[arg-type]
    request = chat_pb2.ChatCompletionRequest(model="mock/echo")
    request.messages.add(role="user", text=HELLO[0]["content"])
    with grpc.insecure_channel(edge.grpc_target) as channel:
        stub = inference_service_pb2_grpc.InferenceServiceStub(channel)
        reply = stub.CreateChatCompletion(
            inference_service_pb2.CreateChatCompletionRequest(request=request),
            metadata=[("authorization", f"Bearer {edge.admin_key}")],
            timeout=30,
        )
        streamed = "".join(
            choice.delta.text
            for message in stub.StreamChatCompletion(
                inference_service_pb2.StreamChatCompletionRequest(request=request),
                metadata=[("authorization", f"Bearer {edge.admin_key}")],
                timeout=30,
            )
            for choice in message.chunk.choices
        )
    assert reply.completion.choices[0].message.text == rest.choices[0].message.content
    assert streamed == rest.choices[0].message.content


def test_every_service_is_serving_in_its_own_process(edge: Edge) -> None:
    pids = set()
    for service in edge.mesh.services.values():
        with grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel:
            status = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=5
            )
        assert status.status == health_pb2.HealthCheckResponse.SERVING, service.name
        pids.add(service.process.pid)
    assert len(pids) == len(edge.mesh.services)


def _post(edge: Edge, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], dict]:
    request = urllib.request.Request(
        f"{edge.url}/v1/chat/completions", data=body, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


@pytest.mark.parametrize(
    ("body", "auth", "status", "code"),
    [
        (b"{not json", True, 400, "invalid_json"),
        (b'{"messages": [{"role": "user", "content": "x"}]}', True, 400, "missing_model"),
        (
            b'{"model": "nope/unknown", "messages": [{"role": "user", "content": "x"}]}',
            True,
            404,
            "model_not_found",
        ),
        (
            b'{"model": "mock/echo", "messages": [{"role": "user", "content": "x"}]}',
            False,
            401,
            "missing_api_key",
        ),
    ],
)
def test_bad_input_gets_openai_shaped_errors(
    edge: Edge, body: bytes, auth: bool, status: int, code: str
) -> None:
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = f"Bearer {edge.admin_key}"
    got_status, got_headers, payload = _post(edge, body, headers)
    assert got_status == status
    assert set(payload) == {"error"}
    assert set(payload["error"]) == {"message", "type", "param", "code"}
    assert payload["error"]["code"] == code
    assert payload["error"]["message"]
    assert not [h for h in got_headers if h.lower().startswith(("grpc-", "x-envoy-"))]
    assert "x-agentopia-error" not in {h.lower() for h in got_headers}


def test_sdk_exception_classes(edge: Edge, client: openai.OpenAI) -> None:
    bad_key = openai.OpenAI(base_url=f"{edge.url}/v1", api_key="sk-agp-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        bad_key.chat.completions.create(model="mock/echo", messages=HELLO)  # type: ignore[arg-type]
    assert caught.value.code == "invalid_api_key"
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="", messages=HELLO)  # type: ignore[arg-type]
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="mock-unknown-model", messages=HELLO)  # type: ignore[arg-type]


def test_oversize_body_is_413(edge: Edge) -> None:
    big = json.dumps(
        {
            "model": "mock/echo",
            "messages": [{"role": "user", "content": "x" * (ROUTER_BODY_LIMIT + 1024)}],
        }
    ).encode()
    status, _, payload = _post(
        edge, big, {"Content-Type": "application/json", "Authorization": f"Bearer {edge.admin_key}"}
    )
    assert status == 413
    assert payload["error"]["code"] == "request_too_large"


def test_unknown_fields_reach_the_provider(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="mock/echo",
        messages=HELLO,  # type: ignore[arg-type]
        extra_body={"mock": {"latency_ms": 0}, "vendor_specific": {"x": 1}},
    )
    assert reply.choices[0].message.content


def test_response_headers_carry_request_id_and_route(edge: Edge) -> None:
    status, headers, _ = _post(
        edge,
        json.dumps({"model": "mock/echo", "messages": HELLO}).encode(),
        {"Content-Type": "application/json", "Authorization": f"Bearer {edge.admin_key}"},
    )
    lowered = {k.lower(): v for k, v in headers.items()}
    assert status == 200
    assert lowered.get("x-request-id")
    assert "mock" in lowered.get("x-agentopia-route", "")
    assert not [h for h in lowered if h.startswith(("grpc-", "x-envoy-"))]
