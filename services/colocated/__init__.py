"""The `colocated` topology: the router and the provider service in one process.

The router calls the ProviderService contract through the generated stub over an
in-process channel (`services.kernel.inprocess`) instead of the loopback; the same
process still serves `agentopia.v1.ProviderService` on its gRPC port (the key vault
validates provider keys through it), leases provider keys from the key vault and
exposes one /metrics with both services' instruments. `docs/topologies.md` says
when to choose it over `split`.
"""
