"""The Agentopia edge: Envoy configuration, its launcher, and `make run`'s supervisor."""
