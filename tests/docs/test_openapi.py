"""The generated OpenAPI document: valid OpenAPI 3.1, every REST mapping of the
descriptor set in it with its role, and no pass-through route undocumented."""

from __future__ import annotations

import pathlib
import shutil
from typing import Any

import pytest
from openapi_spec_validator import validate

from tests.docs.conftest import DESCRIPTOR
from tools.openapi import build_document
from tools.openapi.descriptors import Catalog
from tools.openapi.document import PASSTHROUGH_DIR
from tools.openapi.examples import load_examples
from tools.openapi.operations import routes_of


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    validate(document)
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": "/", "description": "this gateway"}]


def test_every_rest_mapping_is_an_operation_with_its_role(document: dict[str, Any]) -> None:
    routes = routes_of(Catalog.load(DESCRIPTOR))
    assert {r.key for r in routes} >= {"post /v1/chat/completions", "get /agentopia/v1/client-keys"}
    for route in routes:
        operation = document["paths"][route.path][route.verb]
        assert operation["x-grpc-method"] == route.method.grpc_path
        assert operation["x-agentopia-role"] == route.role.value
        assert operation["security"] == [{"bearer": []}]
        assert "200" in operation["responses"], route.key
        assert "401" in operation["responses"], route.key


def test_field_comments_and_enums_come_from_the_protos(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    prefix = schemas["ClientKey"]["properties"]["prefix"]
    assert (
        prefix["description"] == "First characters of the secret, for recognising a key in lists."
    )
    role = schemas["KeyRole"]
    assert role["enum"][0] == "KEY_ROLE_UNSPECIFIED" and "KEY_ROLE_ADMIN" in role["enum"]
    # The transcoder prints int32 as a number, int64 as a string.
    assert schemas["RoutingConfig"]["properties"]["version"]["type"] == "integer"
    assert schemas["UsageSummaryRow"]["properties"]["requests"]["type"] == "string"


def test_roles_follow_the_key_vaults_access_table(document: dict[str, Any]) -> None:
    keys = document["paths"]["/agentopia/v1/client-keys"]
    assert keys["get"]["x-agentopia-role"] == "viewer"
    assert keys["post"]["x-agentopia-role"] == "admin"
    assert document["paths"]["/v1/models"]["get"]["x-agentopia-role"] == "client"


def test_streaming_routes_document_server_sent_events(document: dict[str, Any]) -> None:
    chat = document["paths"]["/v1/chat/completions"]["post"]["responses"]["200"]["content"]
    assert set(chat) == {"application/json", "text/event-stream"}
    live = document["paths"]["/agentopia/v1/live:events"]["get"]["responses"]["200"]["content"]
    assert "text/event-stream" in live
    assert "StreamLiveStatsResponse" in document["components"]["schemas"]


def test_errors_are_documented_per_status_with_their_codes(document: dict[str, Any]) -> None:
    responses = document["components"]["responses"]
    assert "`model_not_found`" in responses["openai_404"]["description"]
    example = responses["openai_404"]["content"]["application/json"]["examples"]["model_not_found"]
    assert example["value"]["error"]["code"] == "model_not_found"
    native = responses["native_403"]["content"]["application/json"]["examples"]
    assert native["admin_key_required"]["value"]["details"][0]["reason"] == "ADMIN_KEY_REQUIRED"


def test_a_passthrough_route_without_a_description_fails_the_build(tmp_path: pathlib.Path) -> None:
    folder = tmp_path / "passthrough"
    shutil.copytree(PASSTHROUGH_DIR, folder)
    (folder / "chat_completions.yaml").unlink()
    with pytest.raises(SystemExit, match=r"post /v1/chat/completions.*tools/openapi/passthrough"):
        build_document(DESCRIPTOR, passthrough=folder)


def test_descriptions_of_routes_not_in_the_protos_are_left_out(tmp_path: pathlib.Path) -> None:
    folder = tmp_path / "passthrough"
    shutil.copytree(PASSTHROUGH_DIR, folder)
    (folder / "future.yaml").write_text(
        "route: post /v1/not-yet\noperation:\n  summary: x\n"
        "  responses: {'200': {description: ok}}\n"
    )
    assert "/v1/not-yet" not in build_document(DESCRIPTOR, passthrough=folder)["paths"]


def test_every_endpoint_has_an_example_and_embeds_it(document: dict[str, Any]) -> None:
    routes = routes_of(Catalog.load(DESCRIPTOR))
    covered = {example.route for example in load_examples()}
    missing = sorted(r.key for r in routes if r.key not in covered)
    assert not missing, f"endpoints without an example in docs/examples/: {missing}"
    for route in routes:
        operation = document["paths"][route.path][route.verb]
        assert operation["x-examples"], route.key


def test_the_messages_routes_document_errors_in_their_own_shape(document: dict[str, Any]) -> None:
    if "/v1/messages" not in document["paths"]:
        pytest.skip("the Messages API is not in the descriptor set")
    responses = document["paths"]["/v1/messages"]["post"]["responses"]
    assert responses["529"] == {"$ref": "#/components/responses/anthropic_529"}
    assert "503" not in responses  # the edge answers 529 (overloaded) instead
    body = document["components"]["responses"]["anthropic_529"]["content"]["application/json"]
    example = body["examples"]["upstream_overloaded"]["value"]
    assert example == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "The provider says it is overloaded."},
    }
