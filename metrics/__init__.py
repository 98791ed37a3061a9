"""The metrics service: usage events in; usage, cost and latency reports out;
a live per-second stream; Prometheus exposition. Never on a request's path.

Libraries for other services: `metrics.client` (the batching usage sender),
`metrics.client.pricing` (the price table and exact costs), `metrics.exposition`
(Prometheus /metrics and the gateway's instruments).
"""
