"""Validate a registry through the typed gRPC API."""

import os

import grpc
from agentopia.v1 import routing_admin_service_pb2, routing_admin_service_pb2_grpc
from google.protobuf.json_format import MessageToJson

REGISTRY = """\
schema_version = 1

[providers.mock]
timeout_s = 30.0

[[models]]
id = "mock/echo"
provider = "mock"
upstream_id = "echo"
capabilities = ["chat", "completions", "streaming"]
context_window = 8192
max_output_tokens = 2048
auto = false
"""

with grpc.insecure_channel(os.environ["AGENTOPIA_GRPC"]) as channel:
    stub = routing_admin_service_pb2_grpc.RoutingAdminServiceStub(channel)
    reply = stub.ValidateRoutingConfig(
        routing_admin_service_pb2.ValidateRoutingConfigRequest(toml=REGISTRY),
        metadata=[("authorization", "Bearer " + os.environ["AGENTOPIA_KEY"])],
        timeout=30,
    )
print(MessageToJson(reply, preserving_proto_field_name=True))
