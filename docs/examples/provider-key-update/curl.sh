#!/bin/sh
# route: patch /agentopia/v1/provider-keys/{key_id}
# Change a provider key's label and weight.
set -eu
curl -sS --fail-with-body -X PATCH "$AGENTOPIA_URL/agentopia/v1/provider-keys/$PROVIDER_KEY_ID?update_mask=label,weight" \
  -H "Authorization: Bearer $AGENTOPIA_KEY" \
  -H "Content-Type: application/json" \
  --data '{"label": "docs-example-primary", "weight": 2}'
