#!/bin/sh
# route: get /agentopia/v1/client-keys
# All keys, without secrets.
set -eu
curl -sS --fail-with-body -X GET "$AGENTOPIA_URL/agentopia/v1/client-keys" \
  -H "Authorization: Bearer $AGENTOPIA_KEY"
