"""One key through the typed gRPC API."""

import os

import grpc
from agentopia.v1 import client_key_service_pb2, client_key_service_pb2_grpc
from google.protobuf.json_format import MessageToJson

with grpc.insecure_channel(os.environ["AGENTOPIA_GRPC"]) as channel:
    stub = client_key_service_pb2_grpc.ClientKeyServiceStub(channel)
    reply = stub.GetClientKey(
        client_key_service_pb2.GetClientKeyRequest(key_id=os.environ["CLIENT_KEY_ID"]),
        metadata=[("authorization", "Bearer " + os.environ["AGENTOPIA_KEY"])],
        timeout=30,
    )
print(MessageToJson(reply, preserving_proto_field_name=True))
