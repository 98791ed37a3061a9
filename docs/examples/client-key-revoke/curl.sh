#!/bin/sh
# route: post /agentopia/v1/client-keys/{key_id}:revoke
# Revoke a key; routers refuse it within a second.
set -eu
curl -sS --fail-with-body -X POST "$AGENTOPIA_URL/agentopia/v1/client-keys/$CLIENT_KEY_ID:revoke" \
  -H "Authorization: Bearer $AGENTOPIA_KEY" \
  -H "Content-Type: application/json" \
  --data '{}'
