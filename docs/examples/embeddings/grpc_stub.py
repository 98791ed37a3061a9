"""Embeddings through the typed gRPC API (InferenceService)."""

import os

import grpc
from agentopia.v1 import embedding_pb2, inference_service_pb2, inference_service_pb2_grpc
from google.protobuf.json_format import MessageToJson

with grpc.insecure_channel(os.environ["AGENTOPIA_GRPC"]) as channel:
    stub = inference_service_pb2_grpc.InferenceServiceStub(channel)
    reply = stub.CreateEmbeddings(
        inference_service_pb2.CreateEmbeddingsRequest(
            request=embedding_pb2.EmbeddingRequest(
                model="mock/embed", texts=embedding_pb2.EmbeddingTexts(texts=["Hello", "World"])
            )
        ),
        metadata=[("authorization", "Bearer " + os.environ["AGENTOPIA_KEY"])],
        timeout=30,
    )
print(MessageToJson(reply, preserving_proto_field_name=True))
