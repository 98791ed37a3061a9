#!/bin/sh
# route: post /agentopia/v1/provider-keys/{key_id}:rotate
# Replace a key without downtime: the old one serves during the overlap.
set -eu
curl -sS --fail-with-body -X POST "$AGENTOPIA_URL/agentopia/v1/provider-keys/$PROVIDER_KEY_ID:rotate" \
  -H "Authorization: Bearer $AGENTOPIA_KEY" \
  -H "Content-Type: application/json" \
  --data '{"secret": "sk-docs-example-rotated-0123456789", "overlap": "600s"}'
