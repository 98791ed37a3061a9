#!/bin/sh
# route: get /v1/models
# The models and aliases the key may call.
set -eu
curl -sS --fail-with-body -X GET "$AGENTOPIA_URL/v1/models" \
  -H "Authorization: Bearer $AGENTOPIA_KEY"
