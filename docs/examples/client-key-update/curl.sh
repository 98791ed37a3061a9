#!/bin/sh
# route: patch /agentopia/v1/client-keys/{key_id}
# Change a key's limits: only the fields named in update_mask.
set -eu
curl -sS --fail-with-body -X PATCH "$AGENTOPIA_URL/agentopia/v1/client-keys/$CLIENT_KEY_ID?update_mask=rpm_limit,team" \
  -H "Authorization: Bearer $AGENTOPIA_KEY" \
  -H "Content-Type: application/json" \
  --data '{"rpm_limit": 120, "team": "research"}'
