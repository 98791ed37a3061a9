"""Provider adapters: one folder per provider, registered in services.provider.registry."""
