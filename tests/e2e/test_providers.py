"""Issue 3's promises through the real edge: the official OpenAI SDK reaches every
registered production provider's emulator with nothing lost — chat, streaming, tools
with streamed arguments, images, JSON mode, legacy completions (where the adapter
declares them), usage — and every upstream error status, generic or the provider's
own, becomes the right SDK exception with an OpenAI-shaped body.

The providers, their models and capabilities come from the registry
(tests/provider/registered.py), not from a list kept here."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import openai
import pytest

from services.provider.adapters.base import Capability
from services.provider.registry import PROVIDERS as PRODUCTION
from services.provider.vocabulary import UPSTREAM_RULES, rule_for
from services.router.routing.loader import load_default
from tests.e2e.conftest import Edge
from tests.e2e.inputs import PARALLEL, PNG
from tests.provider.conformance.harness import Fault, fault_marker
from tests.provider.registered import under_test

pytestmark = pytest.mark.e2e

UNDER_TEST = {provider.name: provider for provider in under_test(PRODUCTION)}
MODELS = {
    name: f"{name}/{provider.manifest.e2e_model}"
    for name, provider in UNDER_TEST.items()
    if provider.manifest is not None and provider.manifest.e2e_model
}
PROVIDERS = list(MODELS)


# A provider on the OpenAI wire format: what it is sent is the client's body, nearly as is.
PASSTHROUGH = next(name for name in PROVIDERS if UNDER_TEST[name].compat is not None)


def _declaring(capability: int) -> list[str]:
    """Providers whose adapter and whose end-to-end model (in the shipped routing
    registry) both claim `capability`: otherwise the router sends the request elsewhere."""
    models = load_default(demo=True).models
    chosen = []
    for name in PROVIDERS:
        manifest = UNDER_TEST[name].manifest
        model = models.get(manifest.e2e_model) if manifest is not None else None
        claimed = model.capabilities if model is not None else None
        if capability in UNDER_TEST[name].capabilities and (
            claimed is None or capability in claimed
        ):
            chosen.append(name)
    return chosen


def _statuses() -> list[tuple[str, int]]:
    """Each provider with the generic statuses and the ones its vocabulary adds."""
    return [
        (name, status)
        for name in PROVIDERS
        for status in sorted({*UPSTREAM_RULES, *UNDER_TEST[name].spec.vocabulary.statuses})
    ]


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
            "required": ["city"],
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def _user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def _upstream(edge: Edge, provider: str) -> Any:
    return getattr(edge.upstreams, provider)


def test_every_production_provider_has_an_upstream(edge: Edge) -> None:
    assert set(MODELS) == set(UNDER_TEST)
    missing = [name for name in PROVIDERS if not hasattr(edge.upstreams, name)]
    assert not missing, f"no emulated upstream in the edge for {missing}"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_chat_streaming_and_usage(aclient: openai.AsyncOpenAI, provider: str) -> None:
    model = MODELS[provider]
    whole = await aclient.chat.completions.create(model=model, messages=_user("Hello"))  # type: ignore[arg-type]
    # The registry's id for the model (the client may have used `<provider>/<id>`).
    assert whole.model and whole.model in model
    assert whole.choices[0].message.content
    assert whole.choices[0].finish_reason == "stop"
    assert whole.usage is not None and whole.usage.prompt_tokens > 0

    stream = await aclient.chat.completions.create(
        model=model,
        messages=_user("Hello"),  # type: ignore[arg-type]
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    assert {chunk.model for chunk in chunks} == {whole.model}
    assert len({chunk.id for chunk in chunks}) == 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens

    plain = await aclient.chat.completions.create(
        model=model,
        messages=_user("Hello"),
        stream=True,  # type: ignore[arg-type]
    )
    plain_chunks = [chunk async for chunk in plain]
    assert all(chunk.usage is None and chunk.choices for chunk in plain_chunks)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_parallel_tool_calls_stream_reassembles_exactly(
    aclient: openai.AsyncOpenAI, provider: str
) -> None:
    model = MODELS[provider]
    kwargs: dict[str, Any] = {
        "model": model,
        "messages": _user(PARALLEL),
        "tools": [WEATHER, TIME],
        "tool_choice": "required",
    }
    whole = await aclient.chat.completions.create(**kwargs)
    expected = [
        (call.id, call.function.name, json.loads(call.function.arguments))
        for call in whole.choices[0].message.tool_calls or []
    ]
    assert [name for _, name, _ in expected] == ["get_weather", "get_time"]
    assert whole.choices[0].finish_reason == "tool_calls"

    calls: dict[int, dict[str, str]] = {}
    finish = None
    async for chunk in await aclient.chat.completions.create(**kwargs, stream=True):
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for delta in choice.delta.tool_calls or []:
                slot = calls.setdefault(delta.index, {"id": "", "name": "", "args": ""})
                slot["id"] += delta.id or ""
                if delta.function is not None:
                    slot["name"] += delta.function.name or ""
                    slot["args"] += delta.function.arguments or ""
    streamed = [(c["id"], c["name"], json.loads(c["args"])) for _, c in sorted(calls.items())]
    assert [(n, a) for _, n, a in streamed] == [(n, a) for _, n, a in expected]
    assert all(call_id for call_id, _, _ in streamed)
    assert finish == "tool_calls"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_tool_result_round_trip(aclient: openai.AsyncOpenAI, provider: str) -> None:
    model = MODELS[provider]
    first = await aclient.chat.completions.create(
        model=model,
        messages=_user("Weather in Paris?"),
        tools=[WEATHER],
        tool_choice="required",  # type: ignore[arg-type,list-item]
    )
    call = (first.choices[0].message.tool_calls or [])[0]
    followup = await aclient.chat.completions.create(
        model=model,
        messages=[  # type: ignore[list-item]
            {"role": "user", "content": "Weather in Paris?"},
            first.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 21}'},
        ],
        tools=[WEATHER],  # type: ignore[list-item]
    )
    assert followup.choices[0].message.content
    assert followup.choices[0].finish_reason == "stop"


@pytest.mark.parametrize("provider", _declaring(Capability.CAPABILITY_VISION))
async def test_image_input(edge: Edge, aclient: openai.AsyncOpenAI, provider: str) -> None:
    content = [
        {"type": "text", "text": "What is in this image?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
    ]
    reply = await aclient.chat.completions.create(
        model=MODELS[provider],
        messages=[{"role": "user", "content": content}],  # type: ignore[list-item,misc]
    )
    assert reply.choices[0].message.content
    sent = _upstream(edge, provider).requests[-1].body["messages"][-1]["content"]
    if UNDER_TEST[provider].compat is not None:  # the OpenAI wire format: passed through
        assert sent == content
    else:
        image = next(block for block in sent if block["type"] == "image")
        assert image["source"] == {"type": "base64", "media_type": "image/png", "data": PNG}


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_json_mode(aclient: openai.AsyncOpenAI, provider: str) -> None:
    reply = await aclient.chat.completions.create(
        model=MODELS[provider],
        messages=_user("Greet me in JSON."),
        response_format={"type": "json_object"},
    )
    assert isinstance(json.loads(reply.choices[0].message.content or ""), dict)


@pytest.mark.parametrize("provider", _declaring(Capability.CAPABILITY_COMPLETIONS))
async def test_legacy_completions(aclient: openai.AsyncOpenAI, provider: str) -> None:
    model = MODELS[provider]
    whole = await aclient.completions.create(model=model, prompt="Say hello", max_tokens=20)
    assert whole.object == "text_completion"
    assert whole.choices[0].text
    assert whole.usage is not None and whole.usage.total_tokens > 0
    stream = await aclient.completions.create(
        model=model, prompt="Say hello", max_tokens=20, stream=True
    )
    text = "".join([c.choices[0].text async for c in stream if c.choices])
    assert text == whole.choices[0].text


async def test_any_model_id_of_a_configured_provider_works(
    edge: Edge, aclient: openai.AsyncOpenAI
) -> None:
    reply = await aclient.chat.completions.create(
        model=f"{PASSTHROUGH}/some-model-the-registry-never-heard-of",
        messages=_user("hi"),  # type: ignore[arg-type]
    )
    assert reply.model == f"{PASSTHROUGH}/some-model-the-registry-never-heard-of"
    sent = _upstream(edge, PASSTHROUGH).requests[-1].body
    assert sent["model"] == "some-model-the-registry-never-heard-of"


async def test_gateway_fields_never_reach_the_upstream(
    edge: Edge, aclient: openai.AsyncOpenAI
) -> None:
    await aclient.chat.completions.create(
        model=MODELS[PASSTHROUGH],
        messages=_user("hi"),  # type: ignore[arg-type]
        extra_body={"mock": {"latency_ms": 1}, "agentopia": {"requirements": {}}, "vendor_x": 1},
    )
    sent = _upstream(edge, PASSTHROUGH).requests[-1].body
    assert "mock" not in sent and "agentopia" not in sent
    assert sent["vendor_x"] == 1  # unknown fields still pass through


_SDK_CLASS = {
    400: openai.BadRequestError,
    401: openai.AuthenticationError,
    403: openai.PermissionDeniedError,
    404: openai.NotFoundError,
    409: openai.ConflictError,
    422: openai.UnprocessableEntityError,
    429: openai.RateLimitError,
}


@pytest.mark.parametrize(("provider", "status"), _statuses())
async def test_upstream_error_becomes_the_right_sdk_exception(
    aclient: openai.AsyncOpenAI, provider: str, status: int
) -> None:
    rule = rule_for(status, vocabulary=UNDER_TEST[provider].spec.vocabulary)
    # A model id of its own, so this test's failures open no circuit other tests use.
    model = f"{MODELS[provider]}-err{status}"
    with pytest.raises(openai.APIStatusError) as caught:
        await aclient.chat.completions.create(
            model=model,
            messages=_user("fail " + fault_marker(Fault("status", status=status))),  # type: ignore[arg-type]
        )
    error = caught.value
    assert error.status_code == rule.http_status
    fallback = openai.InternalServerError if rule.http_status >= 500 else openai.APIStatusError
    expected = _SDK_CLASS.get(rule.http_status, fallback)
    assert type(error) is expected
    body = error.body
    assert isinstance(body, dict) and set(body) == {"message", "type", "param", "code"}
    assert body["code"] == rule.code
    assert "sk-" not in json.dumps(body) and "gsk_" not in json.dumps(body)


async def test_client_disconnect_cancels_the_upstream_request(edge: Edge) -> None:
    """Edge → router → provider → upstream HTTP: closing the client connection
    mid-stream closes the upstream request (the emulator sees its handler cut short)."""
    upstream = _upstream(edge, PASSTHROUGH)
    before = upstream.cancelled
    body = {
        "model": MODELS[PASSTHROUGH] + "-disconnect",
        "stream": True,
        "messages": _user("stream then stall " + fault_marker(Fault("stall"))),
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{edge.url}/v1/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {edge.admin_key}"},
        ) as reply,
    ):
        assert reply.status == 200
        assert (await reply.content.readuntil(b"\n\n")).startswith(b"data: ")
    for _ in range(500):  # bounded wait, no timing assertion
        if upstream.cancelled > before:
            break
        await asyncio.sleep(0.02)
    assert upstream.cancelled > before
