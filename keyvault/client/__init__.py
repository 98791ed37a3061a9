"""The key vault's client package: all that other services may import of the key vault.
`keycache` (the routers' and metrics' copy of the client keys, pushed by
WatchClientKeys), `limits` (client-key RPM/TPM/budget limits across router replicas),
`money` (USD amounts as on the wire) and `provider_keys` (the provider service's one
lease of provider keys). It imports only the kernel and the generated stubs, never the
key vault's own modules (an import-linter contract checks it)."""
