"""Development tooling: the local-run supervisor and generators; never imported by a service."""
