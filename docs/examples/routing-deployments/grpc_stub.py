"""Deployment health through the typed gRPC API."""

import os

import grpc
from agentopia.v1 import routing_admin_service_pb2, routing_admin_service_pb2_grpc
from google.protobuf.json_format import MessageToJson

with grpc.insecure_channel(os.environ["AGENTOPIA_GRPC"]) as channel:
    stub = routing_admin_service_pb2_grpc.RoutingAdminServiceStub(channel)
    reply = stub.ListDeploymentHealth(
        routing_admin_service_pb2.ListDeploymentHealthRequest(),
        metadata=[("authorization", "Bearer " + os.environ["AGENTOPIA_KEY"])],
        timeout=30,
    )
print(MessageToJson(reply, preserving_proto_field_name=True))
