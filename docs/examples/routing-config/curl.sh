#!/bin/sh
# route: get /agentopia/v1/routing/config
# The model registry this router replica routes with.
set -eu
curl -sS --fail-with-body -X GET "$AGENTOPIA_URL/agentopia/v1/routing/config" \
  -H "Authorization: Bearer $AGENTOPIA_KEY"
