#!/bin/sh
# route: get /agentopia/v1/provider-keys/{key_id}/usage
# Requests, errors, tokens and cost through one provider key.
set -eu
curl -sS --fail-with-body -X GET "$AGENTOPIA_URL/agentopia/v1/provider-keys/$PROVIDER_KEY_ID/usage" \
  -H "Authorization: Bearer $AGENTOPIA_KEY"
