#!/bin/sh
# route: get /agentopia/v1/routing/deployments
# Circuit state, load and latency of every deployment.
set -eu
curl -sS --fail-with-body -X GET "$AGENTOPIA_URL/agentopia/v1/routing/deployments" \
  -H "Authorization: Bearer $AGENTOPIA_KEY"
