"""Provider keys: envelope-encrypted at rest, several per provider with weights and
states, rotated without downtime (`store`); leased decrypted to the provider service
only (`lease`); disabled, cooled down and counted from the outcomes it reports, and
swept (`health`); checked upstream through a pluggable validator (`validation`); served
by ProviderKeyService (`servicer`, `convert`)."""
