#!/bin/sh
# route: post /agentopia/v1/provider-keys/{key_id}:validate
# Check a key against its provider with one minimal call.
set -eu
curl -sS --fail-with-body -X POST "$AGENTOPIA_URL/agentopia/v1/provider-keys/$PROVIDER_KEY_ID:validate" \
  -H "Authorization: Bearer $AGENTOPIA_KEY" \
  -H "Content-Type: application/json" \
  --data '{"model": "gpt-4o-mini"}'
