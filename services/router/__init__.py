"""The router: the public inference service (OpenAI-compatible REST and typed gRPC)."""
