"""Change a key's limits through the typed gRPC API."""

import os

import grpc
from agentopia.v1 import client_key_service_pb2, client_key_service_pb2_grpc
from google.protobuf import field_mask_pb2
from google.protobuf.json_format import MessageToJson

with grpc.insecure_channel(os.environ["AGENTOPIA_GRPC"]) as channel:
    stub = client_key_service_pb2_grpc.ClientKeyServiceStub(channel)
    reply = stub.UpdateClientKey(
        client_key_service_pb2.UpdateClientKeyRequest(
            key=client_key_service_pb2.ClientKey(key_id=os.environ["CLIENT_KEY_ID"], rpm_limit=120),
            update_mask=field_mask_pb2.FieldMask(paths=["rpm_limit"]),
        ),
        metadata=[("authorization", "Bearer " + os.environ["AGENTOPIA_KEY"])],
        timeout=30,
    )
print(MessageToJson(reply, preserving_proto_field_name=True))
