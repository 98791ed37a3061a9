"""The same request through the typed gRPC API (InferenceService) on the edge's port."""

import os

import grpc
from agentopia.v1 import chat_pb2, inference_service_pb2, inference_service_pb2_grpc
from google.protobuf.json_format import MessageToJson

with grpc.insecure_channel(os.environ["AGENTOPIA_GRPC"]) as channel:
    stub = inference_service_pb2_grpc.InferenceServiceStub(channel)
    reply = stub.CreateChatCompletion(
        inference_service_pb2.CreateChatCompletionRequest(
            request=chat_pb2.ChatCompletionRequest(
                model="mock/echo",
                messages=[chat_pb2.ChatMessage(role="user", text="Hello!")],
            )
        ),
        metadata=[("authorization", "Bearer " + os.environ["AGENTOPIA_KEY"])],
        timeout=30,
    )
print(MessageToJson(reply, preserving_proto_field_name=True))
