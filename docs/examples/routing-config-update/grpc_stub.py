"""Put the current registry back (a no-op edit) through the typed gRPC API: read it,
then update with the version read (compare-and-set)."""

import os

import grpc
from agentopia.v1 import routing_admin_service_pb2, routing_admin_service_pb2_grpc
from google.protobuf.json_format import MessageToJson

auth = [("authorization", "Bearer " + os.environ["AGENTOPIA_KEY"])]
with grpc.insecure_channel(os.environ["AGENTOPIA_GRPC"]) as channel:
    stub = routing_admin_service_pb2_grpc.RoutingAdminServiceStub(channel)
    current = stub.GetRoutingConfig(
        routing_admin_service_pb2.GetRoutingConfigRequest(), metadata=auth, timeout=30
    )
    reply = stub.UpdateRoutingConfig(
        routing_admin_service_pb2.UpdateRoutingConfigRequest(
            toml=current.config.toml, expected_version=current.config.version
        ),
        metadata=auth,
        timeout=30,
    )
print(MessageToJson(reply, preserving_proto_field_name=True))
