#!/bin/sh
# route: delete /agentopia/v1/provider-keys/{key_id}
# Remove a provider key and its ciphertext.
set -eu
curl -sS --fail-with-body -X DELETE "$AGENTOPIA_URL/agentopia/v1/provider-keys/$PROVIDER_KEY_ID" \
  -H "Authorization: Bearer $AGENTOPIA_KEY"
