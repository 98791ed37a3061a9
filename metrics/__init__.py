"""The metrics service: usage events in; usage, cost and latency reports out;
a live per-second stream; Prometheus exposition. Never on a request's path.

What other services may import is `metrics.client` only: the batching usage
sender, its Prometheus instruments and the price table (`metrics.client.pricing`).
"""
