"""Change a provider key's weight through the typed gRPC API."""

import os

import grpc
from agentopia.v1 import provider_key_service_pb2, provider_key_service_pb2_grpc
from google.protobuf import field_mask_pb2
from google.protobuf.json_format import MessageToJson

with grpc.insecure_channel(os.environ["AGENTOPIA_GRPC"]) as channel:
    stub = provider_key_service_pb2_grpc.ProviderKeyServiceStub(channel)
    reply = stub.UpdateProviderKey(
        provider_key_service_pb2.UpdateProviderKeyRequest(
            key=provider_key_service_pb2.ProviderKey(
                key_id=os.environ["PROVIDER_KEY_ID"], weight=2
            ),
            update_mask=field_mask_pb2.FieldMask(paths=["weight"]),
        ),
        metadata=[("authorization", "Bearer " + os.environ["AGENTOPIA_KEY"])],
        timeout=30,
    )
print(MessageToJson(reply, preserving_proto_field_name=True))
