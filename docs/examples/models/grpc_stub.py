"""The model list through the typed gRPC API."""

import os

import grpc
from agentopia.v1 import inference_service_pb2, inference_service_pb2_grpc
from google.protobuf.json_format import MessageToJson

with grpc.insecure_channel(os.environ["AGENTOPIA_GRPC"]) as channel:
    stub = inference_service_pb2_grpc.InferenceServiceStub(channel)
    reply = stub.ListModels(
        inference_service_pb2.ListModelsRequest(),
        metadata=[("authorization", "Bearer " + os.environ["AGENTOPIA_KEY"])],
        timeout=30,
    )
print(MessageToJson(reply, preserving_proto_field_name=True))
