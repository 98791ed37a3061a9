"""The authorization matrix, proven against the real mesh (every service its own
process, workload identities on, as `make run` and the chart run it) and the real
Envoy edge: every RPC of gen/agentopia.pb over native gRPC to its service, and every
REST route through the edge, for each kind of caller — each answer the one
docs/security.md documents (tests/security/authz_table.py)."""

from __future__ import annotations

import asyncio
import importlib
import pathlib
import pkgutil
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import agentopia.v1
import aiohttp
import grpc
import orjson
import pytest
import pytest_asyncio
from agentopia.v1 import client_key_service_pb2 as ck_pb2
from agentopia.v1 import client_key_service_pb2_grpc as ck_grpc
from agentopia.v1 import keyvault_types_pb2 as kv_types
from agentopia.v1 import openai_compat_service_pb2 as oc_pb2
from agentopia.v1 import openai_compat_service_pb2_grpc as oc_grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from google.protobuf.message import Message

from gateway.routes import INTERNAL_METHODS, SERVICE_ROUTES
from services.kernel.identity import IDENTITY_HEADER
from services.kernel.peers import INTERNAL_CALLERS
from tests.security.authz_table import (
    CALLERS,
    DOC,
    Answer,
    Kind,
    Rpc,
    current_doc,
    expected,
    kind_of,
    rpcs,
    service_workloads,
)
from tests.support.edge import Edge, run_edge
from tests.support.identity import TOKENS, identity_env
from tests.support.mesh import ADMIN_KEY, Mesh, run_mesh

# Importing every generated module fills the default descriptor pool.
for _module in pkgutil.iter_modules(agentopia.v1.__path__):
    if _module.name.endswith("_pb2"):
        importlib.import_module(f"agentopia.v1.{_module.name}")

SERVICE_TOKEN = secrets.token_urlsafe(32)
_CHAT = {"model": "mock/echo", "messages": [{"role": "user", "content": "hi"}]}
# Request bodies that pass validation, so a role refusal (which comes after parsing)
# is what an inference call meets. Every inference RPC needs one.
BODIES: dict[str, dict[str, Any]] = {
    "OpenAICompatService/ChatCompletions": _CHAT,
    "OpenAICompatService/Completions": {"model": "mock/echo", "prompt": "hi"},
    "OpenAICompatService/Embeddings": {"model": "mock/echo", "input": "hi"},
    "MessagesService/CreateMessage": {**_CHAT, "max_tokens": 16},
    "MessagesService/CountMessageTokens": _CHAT,
    "InferenceService/CreateChatCompletion": {
        "request": {"model": "mock/echo", "messages": [{"role": "user", "text": "hi"}]}
    },
    "InferenceService/StreamChatCompletion": {
        "request": {"model": "mock/echo", "messages": [{"role": "user", "text": "hi"}]}
    },
    "InferenceService/CreateCompletion": {"request": {"model": "mock/echo", "prompt": ["hi"]}},
    "InferenceService/StreamCompletion": {"request": {"model": "mock/echo", "prompt": ["hi"]}},
    "InferenceService/CreateEmbeddings": {
        "request": {"model": "mock/echo", "texts": {"texts": ["hi"]}}
    },
}
_HOSTS = {route.service.rpartition(".")[2]: route.cluster for route in SERVICE_ROUTES}
_HOSTS["ProviderService"] = "provider"
_STREAM_WAIT_S = 5.0  # an authorised stream may stay silent; refusals are immediate


@dataclass
class World:
    mesh: Mesh
    edge: Edge
    keys: dict[str, str]  # role -> secret


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(600):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def _create_keys(mesh: Mesh) -> dict[str, str]:
    keys = {"admin": ADMIN_KEY}
    async with grpc.aio.insecure_channel(mesh.target("keyvault")) as channel:
        stub = ck_grpc.ClientKeyServiceStub(channel)
        for name, role in (
            ("client", kv_types.KEY_ROLE_CLIENT),
            ("viewer", kv_types.KEY_ROLE_VIEWER),
        ):
            created = await stub.CreateClientKey(
                ck_pb2.CreateClientKeyRequest(name=f"matrix {name}", role=role),
                metadata=(("authorization", f"Bearer {ADMIN_KEY}"),),
                timeout=10,
            )
            keys[name] = created.secret
    async with grpc.aio.insecure_channel(mesh.target("router")) as channel:
        models = oc_grpc.OpenAICompatServiceStub(channel)

        async def router_knows_them() -> bool:
            try:
                for secret in keys.values():
                    auth = (("authorization", f"Bearer {secret}"),)
                    await models.Models(oc_pb2.ModelsRequest(), metadata=auth, timeout=5)
            except grpc.aio.AioRpcError:
                return False
            return True

        await _until(router_knows_them, "the router's copy of the new keys")
    return keys


@pytest_asyncio.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    workdir: pathlib.Path = tmp_path_factory.mktemp("matrix")
    names = ("keyvault", "metrics", "provider", "router")
    async with (
        run_mesh(
            workdir,
            {
                "AGENTOPIA_KEYVAULT_SERVICE_TOKEN": SERVICE_TOKEN,
                "AGENTOPIA_IDENTITY_REQUIRED": "true",
            },
            service_env={name: identity_env(name) for name in names},
            topology="split",
        ) as mesh,
        run_edge(
            router_port=mesh.services["router"].port,
            keyvault_port=mesh.services["keyvault"].port,
            metrics_port=mesh.services["metrics"].port,
        ) as edge,
    ):
        keys = await _create_keys(mesh)
        yield World(mesh, edge, keys)


def _credentials(rpc: Rpc, caller: str, world: World) -> list[tuple[str, str]]:
    """The metadata (or HTTP headers) a caller of this kind sends."""
    if caller in world.keys:
        return [("authorization", f"Bearer {world.keys[caller]}")]
    if caller == "no key":
        return []
    allowed, refused = service_workloads(rpc)
    name = allowed if caller == "service" else refused
    sent = [(IDENTITY_HEADER, f"{name} {TOKENS[name]}")]
    if caller == "service" and kind_of(rpc) is Kind.INTERNAL_ADMIN:
        sent.append(("authorization", f"Bearer {ADMIN_KEY}"))  # the admin's edit, forwarded
    elif caller == "service" and rpc.service == "ProviderKeyService":
        sent.append(("authorization", f"Bearer {SERVICE_TOKEN}"))  # the lease's own token
    return sent


def _message_class(full_name: str) -> type[Message]:
    found = descriptor_pool.Default().FindMessageTypeByName(full_name)
    cls: type[Message] = message_factory.GetMessageClass(found)
    return cls


def _request(rpc: Rpc) -> Message:
    cls = _message_class(rpc.input_type)
    body = BODIES.get(rpc.name)
    if rpc.input_type == "google.api.HttpBody":
        return cls(content_type="application/json", data=orjson.dumps(body or {}))
    return json_format.ParseDict(body or {}, cls())


def _answer_of(code: grpc.StatusCode) -> Answer:
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return Answer.UNAUTHENTICATED
    if code == grpc.StatusCode.PERMISSION_DENIED:
        return Answer.PERMISSION_DENIED
    return Answer.ALLOWED


async def _grpc_answer(rpc: Rpc, caller: str, world: World) -> Answer:
    target = world.mesh.target(_HOSTS[rpc.service])
    response = _message_class(rpc.output_type)
    metadata = tuple(_credentials(rpc, caller, world))
    async with grpc.aio.insecure_channel(target) as channel:
        try:
            if rpc.server_streaming:
                stream = channel.unary_stream(
                    rpc.full_method, lambda m: m.SerializeToString(), response.FromString
                )
                call = stream(_request(rpc), metadata=metadata, timeout=_STREAM_WAIT_S)
                await call.read()
                call.cancel()
            else:
                unary = channel.unary_unary(
                    rpc.full_method, lambda m: m.SerializeToString(), response.FromString
                )
                await unary(_request(rpc), metadata=metadata, timeout=30)
        except grpc.aio.AioRpcError as error:
            return _answer_of(error.code())
    return Answer.ALLOWED


def _rest_path(rpc: Rpc) -> str:
    return re.sub(r"\{[^}]+\}", "matrix-x", rpc.path)


async def _rest_answer(
    rpc: Rpc, caller: str, world: World, session: aiohttp.ClientSession
) -> Answer:
    headers = dict(_credentials(rpc, caller, world))
    data = orjson.dumps(BODIES.get(rpc.name, {})) if rpc.body else None
    if data is not None:
        headers["content-type"] = "application/json"
    url = world.edge.url + _rest_path(rpc)
    try:
        async with session.request(
            rpc.verb.upper(), url, headers=headers, data=data,
            timeout=aiohttp.ClientTimeout(total=_STREAM_WAIT_S + 25, sock_read=_STREAM_WAIT_S),
        ) as reply:  # fmt: skip
            status = reply.status
    except TimeoutError:  # an authorised stream that stayed silent
        return Answer.ALLOWED
    return {401: Answer.UNAUTHENTICATED, 403: Answer.PERMISSION_DENIED}.get(status, Answer.ALLOWED)


def test_every_rpc_has_a_documented_answer() -> None:
    missing = [rpc.name for rpc in rpcs() if kind_of(rpc) is None]
    assert not missing, f"add these RPCs to tests/security/authz_table.py: {missing}"
    inference = [rpc.name for rpc in rpcs() if kind_of(rpc) is Kind.INFERENCE]
    assert sorted(set(inference) - set(BODIES)) == [], "give each inference RPC a valid body"


def test_the_documented_table_is_current() -> None:
    assert DOC.read_text() == current_doc(DOC.read_text()), (
        "docs/security.md is stale: run `python -m tests.security.authz_table`"
    )


def test_internal_methods_are_internal_at_the_edge_too() -> None:
    """The edge refuses every internal method of a service it routes."""
    routed = {route.service for route in SERVICE_ROUTES}
    internal = {m for m in INTERNAL_CALLERS if m.strip("/").partition("/")[0] in routed}
    assert internal <= set(INTERNAL_METHODS)


_ALL = [pytest.param(rpc, id=rpc.name) for rpc in rpcs() if kind_of(rpc) is not None]


@pytest.mark.parametrize("rpc", _ALL)
async def test_grpc_answers(world: World, rpc: Rpc) -> None:
    kind = kind_of(rpc)
    assert kind is not None
    answers = await asyncio.gather(*(_grpc_answer(rpc, caller, world) for caller in CALLERS))
    assert dict(zip(CALLERS, answers, strict=True)) == expected(kind)


_ROUTED = [pytest.param(rpc, id=rpc.name) for rpc in rpcs() if rpc.verb and kind_of(rpc)]


@pytest.mark.parametrize("rpc", _ROUTED)
async def test_rest_answers(world: World, rpc: Rpc) -> None:
    kind = kind_of(rpc)
    assert kind is not None
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(
            *(_rest_answer(rpc, caller, world, session) for caller in CALLERS)
        )
    assert dict(zip(CALLERS, answers, strict=True)) == expected(kind)


_INTERNAL = [
    pytest.param(rpc, id=rpc.name)
    for rpc in rpcs()
    if kind_of(rpc) in (Kind.INTERNAL, Kind.INTERNAL_ADMIN)
]


@pytest.mark.parametrize("rpc", _INTERNAL)
async def test_internal_rpcs_are_unreachable_through_the_edge(world: World, rpc: Rpc) -> None:
    response = _message_class(rpc.output_type)
    metadata = tuple(_credentials(rpc, "service", world))
    async with grpc.aio.insecure_channel(world.edge.grpc_target) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            if rpc.server_streaming:
                call = channel.unary_stream(
                    rpc.full_method, lambda m: m.SerializeToString(), response.FromString
                )(_request(rpc), metadata=metadata, timeout=10)
                await call.read()
            else:
                await channel.unary_unary(
                    rpc.full_method, lambda m: m.SerializeToString(), response.FromString
                )(_request(rpc), metadata=metadata, timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
