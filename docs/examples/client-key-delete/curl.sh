#!/bin/sh
# route: delete /agentopia/v1/client-keys/{key_id}
# Remove a key for good.
set -eu
curl -sS --fail-with-body -X DELETE "$AGENTOPIA_URL/agentopia/v1/client-keys/$CLIENT_KEY_ID" \
  -H "Authorization: Bearer $AGENTOPIA_KEY"
