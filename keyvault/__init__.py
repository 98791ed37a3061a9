"""The key vault: custody of client keys (hashed) and provider keys (envelope-encrypted),
their lifecycle, the audit log, and the snapshots the router and provider service follow."""
