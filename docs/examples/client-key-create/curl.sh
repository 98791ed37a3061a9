#!/bin/sh
# route: post /agentopia/v1/client-keys
# Create a client key (the secret is in the answer, once).
set -eu
curl -sS --fail-with-body -X POST "$AGENTOPIA_URL/agentopia/v1/client-keys" \
  -H "Authorization: Bearer $AGENTOPIA_KEY" \
  -H "Content-Type: application/json" \
  --data '{"name": "docs-example", "role": "KEY_ROLE_CLIENT", "allowed_models": ["mock/echo"], "rpm_limit": 60, "team": "docs"}'
