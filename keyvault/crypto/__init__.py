"""Envelope encryption (AES-256-GCM) and the key-encryption-key sources."""
