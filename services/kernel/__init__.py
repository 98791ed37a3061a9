"""Bootstrap shared by every Agentopia service: config, logging, tracing, errors, servers."""
