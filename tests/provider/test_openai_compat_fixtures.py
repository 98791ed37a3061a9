"""Golden fixtures for the OpenAI-compatible adapter, for every registered provider
built on it (derived from the registry: tests/provider/registered.py).

tests/fixtures/providers/<provider>/<kind>_*.json, by `kind`:
- request:  unified request -> the exact upstream body (or the error we raise)
- response: upstream body -> unified body and usage
- stream:   upstream SSE data payloads -> unified chunks and usage (or the error)
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import grpc
import orjson
import pytest

from services.kernel.errors import GatewayError
from services.provider.adapters.base import Call, Operation
from services.provider.adapters.openai_compat.spec import CompatSpec
from services.provider.adapters.openai_compat.stream import InBandError, StreamTranslator
from services.provider.adapters.openai_compat.translate import (
    build_request,
    extract_usage,
    translate_response,
    usage_from,
)
from services.provider.errors import stream_error
from tests.provider.registered import FIXTURES, under_test

KINDS = ("request", "response", "stream")
SPECS: dict[str, CompatSpec] = {
    provider.name: provider.compat for provider in under_test() if provider.compat is not None
}


def _load(kind: str) -> list[Any]:
    cases = []
    for provider in SPECS:
        for path in sorted((FIXTURES / provider).glob(f"{kind}_*.json")):
            data = json.loads(path.read_text())
            assert data["kind"] == kind, path
            cases.append(pytest.param(provider, data, id=f"{provider}/{path.stem}"))
    return cases


def _call(data: dict[str, Any], body: dict[str, Any] | None = None) -> Call:
    return Call(
        operation=Operation(data.get("operation", "chat")),
        body=body if body is not None else {},
        upstream_model=data.get("upstream_model", "upstream-model"),
        response_model=data.get("response_model", "client-model"),
        request_id="req-fixture",
    )


def test_every_provider_has_fixtures_of_each_kind() -> None:
    assert SPECS, "no registered provider is built on the openai_compat adapter"
    for provider in SPECS:
        kinds = {
            json.loads(path.read_text())["kind"]
            for kind in KINDS
            for path in (FIXTURES / provider).glob(f"{kind}_*.json")
        }
        assert kinds == set(KINDS), f"{provider}: fixtures of kinds {sorted(kinds)} only"


@pytest.mark.parametrize(("provider", "data"), _load("request"))
def test_request_fixture(provider: str, data: dict[str, Any]) -> None:
    spec = SPECS[provider]
    unified = json.loads(json.dumps(data["unified"]))
    call = _call(data, unified)
    if "error" in data:
        with pytest.raises(GatewayError) as caught:
            build_request(spec, call, stream=data["stream"])
        err = caught.value
        assert err.status == getattr(grpc.StatusCode, data["error"]["status"])
        assert err.code == data["error"]["code"]
        assert err.param == data["error"]["param"]
        assert provider in err.message
        if err.param:
            assert err.param in err.message
        return
    built = build_request(spec, call, stream=data["stream"])
    assert built.body == data["upstream"]
    assert list(built.dropped) == data.get("dropped", [])
    assert built.path == spec.path_for(call.operation)
    assert unified == data["unified"], "the unified request must not be mutated"
    # What goes on the wire is plain JSON that round-trips exactly.
    assert orjson.loads(orjson.dumps(built.body)) == data["upstream"]


@pytest.mark.parametrize(("provider", "data"), _load("response"))
def test_response_fixture(provider: str, data: dict[str, Any]) -> None:
    spec = SPECS[provider]
    upstream = data["upstream"]
    body = translate_response(spec, upstream, response_model=data["response_model"])
    assert body == data["unified"]
    usage = usage_from(extract_usage(spec, upstream))
    assert dataclasses.asdict(usage) == data["usage"]
    assert usage.total_tokens == upstream["usage"]["total_tokens"]


@pytest.mark.parametrize(("provider", "data"), _load("stream"))
def test_stream_fixture(provider: str, data: dict[str, Any]) -> None:
    spec = SPECS[provider]
    translator = StreamTranslator(
        spec, response_model=data["response_model"], include_usage=data["include_usage"]
    )
    chunks: list[dict[str, Any]] = []
    try:
        for event in data["events"]:
            payload = event if isinstance(event, str) else orjson.dumps(event).decode()
            chunks.extend(chunk.body for chunk in translator.feed(payload))
        chunks.extend(chunk.body for chunk in translator.finish())
    except InBandError as failure:
        raised: GatewayError = stream_error(provider=provider, payload=failure.payload)
    except GatewayError as failure:
        raised = failure
    else:
        assert "error" not in data, "the stream should have failed"
        assert chunks == data["chunks"]
        assert dataclasses.asdict(translator.usage) == data["usage"]
        _assert_openai_stream_invariants(chunks, data)
        return
    assert "error" in data, f"unexpected failure: {raised}"
    assert chunks == data["chunks"]
    assert raised.code == data["error"]["code"]
    assert raised.retryable == data["error"]["retryable"]


def _assert_openai_stream_invariants(chunks: list[dict[str, Any]], data: dict[str, Any]) -> None:
    assert chunks
    assert len({c["id"] for c in chunks}) == 1
    assert len({c["created"] for c in chunks}) == 1
    assert all(isinstance(c["created"], int) for c in chunks)
    assert {c["model"] for c in chunks} == {data["response_model"]}
    assert all(isinstance(c["choices"], list) for c in chunks)
    usage_chunks = [c for c in chunks if not c["choices"]]
    if data["include_usage"]:
        assert len(usage_chunks) == 1
        assert chunks[-1] is usage_chunks[0] and isinstance(chunks[-1]["usage"], dict)
    else:
        assert not usage_chunks
        assert all("usage" not in c for c in chunks)
