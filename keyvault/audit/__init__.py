"""The audit log: every change to a key or to the routing configuration, who made it and
when (never a secret), written in the change's own transaction and served by
AuditService."""
