#!/bin/sh
# route: get /agentopia/v1/client-keys/{key_id}
# One key (CLIENT_KEY_ID: a key id).
set -eu
curl -sS --fail-with-body -X GET "$AGENTOPIA_URL/agentopia/v1/client-keys/$CLIENT_KEY_ID" \
  -H "Authorization: Bearer $AGENTOPIA_KEY"
