"""Embeddings and chat never stand in for each other: `auto` keeps the kinds apart,
and a named model of the wrong kind is refused with the capability it lacks."""

from __future__ import annotations

import grpc
import pytest

from services.kernel.errors import GatewayError
from services.router.routing.capabilities import EMBEDDINGS
from services.router.routing.loader import load_default
from services.router.routing.registry import Registry
from services.router.routing.requirements import NO_REQUIREMENTS
from services.router.routing.selection import select
from services.router.routing.tokens import profile_request

EMBED = profile_request({"model": "auto", "input": ["a", "b"]}, operation="embeddings")
CHAT = profile_request({"model": "auto", "messages": [{"role": "user", "content": "hi"}]})


@pytest.fixture(scope="module")
def shipped() -> Registry:
    return load_default(demo=True)


def test_an_embeddings_request_needs_the_embeddings_capability_only() -> None:
    assert EMBED.capabilities == {EMBEDDINGS}
    assert EMBED.prompt_tokens > 0


def test_auto_for_embeddings_picks_only_embedding_models(shipped: Registry) -> None:
    decision = select(shipped, "auto", NO_REQUIREMENTS, EMBED)
    assert decision.candidates
    assert all(m.capabilities and EMBEDDINGS in m.capabilities for m in decision.candidates)
    assert not any(e.requirement == "capability:embeddings" for e in decision.excluded)


def test_auto_for_chat_never_lists_an_embedding_model(shipped: Registry) -> None:
    decision = select(shipped, "auto", NO_REQUIREMENTS, CHAT)
    assert not any(m.capabilities and EMBEDDINGS in m.capabilities for m in decision.candidates)
    assert not any(e.model.startswith("text-embedding") for e in decision.excluded)


@pytest.mark.parametrize(
    ("model", "profile", "lacks"),
    [("mock/echo", EMBED, "embeddings"), ("mock/embed", CHAT, "chat")],
)
def test_a_named_model_of_the_other_kind_is_refused(
    shipped: Registry, model: str, profile: object, lacks: str
) -> None:
    with pytest.raises(GatewayError) as caught:
        select(shipped, model, NO_REQUIREMENTS, profile)  # type: ignore[arg-type]
    assert caught.value.status == grpc.StatusCode.INVALID_ARGUMENT
    assert f"capability:{lacks}" in caught.value.message
