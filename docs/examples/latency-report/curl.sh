#!/bin/sh
# route: get /agentopia/v1/latency:report
# Latency percentiles and error rates per provider and model.
set -eu
curl -sS --fail-with-body -X GET "$AGENTOPIA_URL/agentopia/v1/latency:report" \
  -H "Authorization: Bearer $AGENTOPIA_KEY"
