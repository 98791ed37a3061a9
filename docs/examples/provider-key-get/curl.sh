#!/bin/sh
# route: get /agentopia/v1/provider-keys/{key_id}
# One provider key (PROVIDER_KEY_ID: its id).
set -eu
curl -sS --fail-with-body -X GET "$AGENTOPIA_URL/agentopia/v1/provider-keys/$PROVIDER_KEY_ID" \
  -H "Authorization: Bearer $AGENTOPIA_KEY"
