#!/bin/sh
# route: get /agentopia/v1/client-keys/{key_id}/usage
# A key's live usage against its limits and budget.
set -eu
curl -sS --fail-with-body -X GET "$AGENTOPIA_URL/agentopia/v1/client-keys/$CLIENT_KEY_ID/usage" \
  -H "Authorization: Bearer $AGENTOPIA_KEY"
