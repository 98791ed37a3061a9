#!/bin/sh
# route: get /agentopia/v1/provider-keys
# Provider keys with their state and health.
set -eu
curl -sS --fail-with-body -X GET "$AGENTOPIA_URL/agentopia/v1/provider-keys" \
  -H "Authorization: Bearer $AGENTOPIA_KEY"
