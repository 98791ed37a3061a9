"""Client-side helpers for services that consume the key vault (no database imports)."""
