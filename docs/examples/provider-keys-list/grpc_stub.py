"""Provider keys through the typed gRPC API."""

import os

import grpc
from agentopia.v1 import provider_key_service_pb2, provider_key_service_pb2_grpc
from google.protobuf.json_format import MessageToJson

with grpc.insecure_channel(os.environ["AGENTOPIA_GRPC"]) as channel:
    stub = provider_key_service_pb2_grpc.ProviderKeyServiceStub(channel)
    reply = stub.ListProviderKeys(
        provider_key_service_pb2.ListProviderKeysRequest(),
        metadata=[("authorization", "Bearer " + os.environ["AGENTOPIA_KEY"])],
        timeout=30,
    )
print(MessageToJson(reply, preserving_proto_field_name=True))
