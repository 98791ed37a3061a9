"""The audit log through the typed gRPC API."""

import os

import grpc
from agentopia.v1 import audit_service_pb2, audit_service_pb2_grpc
from google.protobuf.json_format import MessageToJson

with grpc.insecure_channel(os.environ["AGENTOPIA_GRPC"]) as channel:
    stub = audit_service_pb2_grpc.AuditServiceStub(channel)
    reply = stub.ListAuditEvents(
        audit_service_pb2.ListAuditEventsRequest(page_size=5),
        metadata=[("authorization", "Bearer " + os.environ["AGENTOPIA_KEY"])],
        timeout=30,
    )
print(MessageToJson(reply, preserving_proto_field_name=True))
