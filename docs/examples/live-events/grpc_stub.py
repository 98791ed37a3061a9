"""Live per-second traffic through the typed gRPC stream (the first frame, then stop)."""

import os

import grpc
from agentopia.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from google.protobuf.json_format import MessageToJson

with grpc.insecure_channel(os.environ["AGENTOPIA_GRPC"]) as channel:
    stub = metrics_service_pb2_grpc.MetricsServiceStub(channel)
    frames = stub.StreamLiveStats(
        metrics_service_pb2.StreamLiveStatsRequest(),
        metadata=[("authorization", "Bearer " + os.environ["AGENTOPIA_KEY"])],
        timeout=30,
    )
    for frame in frames:
        print(MessageToJson(frame, preserving_proto_field_name=True, indent=None))
        frames.cancel()
        break
