#!/bin/sh
# route: get /agentopia/v1/overhead:report
# The distribution of the gateway's own overhead.
set -eu
curl -sS --fail-with-body -X GET "$AGENTOPIA_URL/agentopia/v1/overhead:report" \
  -H "Authorization: Bearer $AGENTOPIA_KEY"
