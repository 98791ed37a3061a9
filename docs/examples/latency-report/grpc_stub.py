"""The latency report through the typed gRPC API."""

import os

import grpc
from agentopia.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from google.protobuf.json_format import MessageToJson

with grpc.insecure_channel(os.environ["AGENTOPIA_GRPC"]) as channel:
    stub = metrics_service_pb2_grpc.MetricsServiceStub(channel)
    reply = stub.GetLatencyReport(
        metrics_service_pb2.GetLatencyReportRequest(),
        metadata=[("authorization", "Bearer " + os.environ["AGENTOPIA_KEY"])],
        timeout=30,
    )
print(MessageToJson(reply, preserving_proto_field_name=True))
